"""The pure modules import no AWS, HTTP, Chalice or Powertools library, nor read the clock.

"Pure" is the whole of ``chalicelib/core`` (its packages included) and the pure parts of
job features that live elsewhere, such as the certification rule.
"""
from __future__ import annotations

import ast
import pathlib

FORBIDDEN = {"boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools", "httpx", "requests",
             "urllib3", "urllib", "http", "jwt", "psycopg", "socket", "moto", "time"}
ROOT = pathlib.Path(__file__).resolve().parents[2] / "chalicelib"
CORE = ROOT / "core"
PURE_OUTSIDE_CORE = [ROOT / "jobs" / "certification" / "rule.py"]


def pure_modules() -> list[pathlib.Path]:
    return sorted(CORE.rglob("*.py")) + PURE_OUTSIDE_CORE


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_pure_modules_import_nothing_forbidden():
    files = pure_modules()
    assert len(files) >= 25 and all(f.is_file() for f in files)
    offenders = {str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_core_imports_only_the_core():
    outside = {str(f.relative_to(ROOT)): sorted(m for m in imported_modules(f)
                                                 if m.startswith("chalicelib") and not m.startswith("chalicelib.core"))
               for f in sorted(CORE.rglob("*.py"))}
    assert {name: bad for name, bad in outside.items() if bad} == {}


def test_pure_modules_never_read_the_system_clock():
    for path in pure_modules():
        text = path.read_text()
        assert "datetime.now(" not in text and "datetime.utcnow(" not in text and "time.time(" not in text, path.name
