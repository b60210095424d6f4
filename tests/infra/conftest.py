"""Packages each Chalice stage once per test session with the merged infra template.

``chalice package`` imports ``app.py`` and builds the deployment package (it downloads
manylinux wheels for requirements.txt from PyPI the first time and then reuses
``.chalice/deployments/``), so the packaged templates are session fixtures.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAGES = ("dev", "prod")
# Logical ids Chalice 1.34 gives the app's functions (see `chalice package`).
FUNCTIONS = ("APIHandler", "Dispatch", "RunExecution", "JwtAuthorizer")


@dataclass(frozen=True)
class Packaged:
    stage: str
    directory: Path
    template: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.directory / "sam.json"

    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.template["Resources"][logical_id]


def chalice_package(stage: str, out: Path) -> Packaged:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-north-1")}
    result = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", stage, "--pkg-format", "cloudformation",
         "--merge-template", "infra/template.json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280,
    )
    assert result.returncode == 0, f"chalice package --stage {stage} failed:\n{result.stdout}\n{result.stderr}"
    return Packaged(stage, out, json.loads((out / "sam.json").read_text()))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Packaged]:
    """Stage name -> its packaged (merged) template."""
    root = tmp_path_factory.mktemp("chalice-package")
    return {stage: chalice_package(stage, root / stage) for stage in STAGES}


@pytest.fixture(scope="session")
def chalice_config() -> dict[str, Any]:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())
