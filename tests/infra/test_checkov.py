"""The packaged template of each stage passes checkov with no failed check.

What checkov flags but this stack does not need is suppressed in the resource's
Metadata with a one-line reason; the test prints every suppression with its reason.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import ROOT, STAGES, Packaged

pytestmark = pytest.mark.timeout(900)

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.parametrize("stage", STAGES)
def test_checkov_finds_no_failed_check(packaged: dict[str, Packaged], stage: str, record_property) -> None:
    assert CHECKOV.exists(), "checkov is installed by `make test` (requirements-checkov.txt) into .venv-checkov"
    result = subprocess.run([str(CHECKOV), "-f", str(packaged[stage].path), "--framework", "cloudformation",
                             "--output", "json", "--compact", "--skip-download"],
                            capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    results = report.get("results", {})
    failed = [(c["check_id"], c["resource"]) for c in results.get("failed_checks", [])]
    assert failed == [], failed
    skipped = sorted({(c["check_id"], c["resource"], (c.get("check_result") or {}).get("suppress_comment", ""))
                      for c in results.get("skipped_checks", [])})
    assert all(comment.strip() for _, _, comment in skipped), "every suppression gives its reason"
    summary = report.get("summary", {})
    record_property("summary", f"checkov {stage}: {summary.get('passed')} passed, {summary.get('failed')} failed, "
                               f"{len(skipped)} suppressed with a reason")
