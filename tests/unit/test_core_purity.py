"""The core imports no AWS, HTTP, Chalice or Powertools library."""
from __future__ import annotations

import ast
import pathlib

FORBIDDEN = {"boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools", "httpx", "requests",
             "urllib3", "urllib", "http", "jwt", "psycopg", "socket", "moto"}
CORE = pathlib.Path(__file__).resolve().parents[2] / "chalicelib" / "core"


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_import_nothing_forbidden():
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 8
    offenders = {f.name: sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_core_never_reads_the_system_clock():
    for path in CORE.glob("*.py"):
        text = path.read_text()
        assert "datetime.now(" not in text and "datetime.utcnow(" not in text and "time.time(" not in text, path.name
