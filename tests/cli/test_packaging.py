"""The command line is the project's package and nothing else: never part of the Lambda code."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_installs_only_the_scheduler_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"scheduler": "scheduler_cli.commands:main"}
    assert project["tool"]["setuptools"]["packages"] == ["scheduler_cli"]
    assert "--no-deps -e ." in (ROOT / "Makefile").read_text()


def test_the_lambda_code_neither_imports_the_cli_nor_ships_its_libraries():
    deployed = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    assert [p for p in deployed if "scheduler_cli" in p.read_text()] == []
    assert not re.search(r"^(click|rich|typer)\b", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
