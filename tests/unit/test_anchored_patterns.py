"""Patterns are anchored with ``\\Z`` or ``fullmatch`` (STYLE.md habit 12): Python's ``$``
also matches before a trailing newline, so ``re.match(r"^[a-z]+$", "name\\n")`` succeeds.

The scan reads every module of ``chalicelib/``, ``devstack/`` and ``app.py``; the other
tests feed a trailing newline to what each pattern guards."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chalicelib.core.cron import validate_cron, validate_timezone
from chalicelib.core.definitions import validate_job_name
from chalicelib.core.errors import ValidationFailed
from chalicelib.jobs.http_request import validate_http_request_payload
from chalicelib.supabase.client import looks_like_jwt

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("chalicelib").rglob("*.py"), *ROOT.joinpath("devstack").rglob("*.py"), ROOT / "app.py"])
PATTERN_CALLS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def _pattern_literals(path: Path) -> list[tuple[int, str]]:
    """String literals given to ``re.<fn>(...)`` as the pattern (the first argument)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PATTERN_CALLS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_pattern_in_the_code_is_anchored_with_a_dollar():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {pattern!r}"
                 for path in SOURCES for line, pattern in _pattern_literals(path)
                 if re.search(r"(?<!\\)\$(?:\)*)$|(?<!\\)\$\||(?<!\\)\$\)", pattern)]
    assert not offenders, "use \\Z or fullmatch; '$' lets a trailing newline through:\n" + "\n".join(offenders)


def test_the_scan_finds_the_patterns_it_is_meant_to_check():
    assert sum(len(_pattern_literals(path)) for path in SOURCES) >= 10


@pytest.mark.parametrize("check, value", [
    (validate_job_name, "certification-expiry-check\n"),
    (validate_cron, "0 2 * * *\n"),
    (validate_cron, "0 2 * * *\r"),
    (validate_timezone, "Europe/Oslo\n"),
])
def test_a_trailing_newline_is_refused_not_trimmed(check, value):
    with pytest.raises(ValidationFailed):
        check(value)


def test_a_trailing_newline_in_a_header_name_or_host_is_refused():
    errors = validate_http_request_payload({"url": "https://api.example.com/x", "headers": {"Host\n": "x"}},
                                           allowed_hosts=("api.example.com",))
    assert [e.field for e in errors] == ["payload.headers.Host\n"]
    errors = validate_http_request_payload({"url": "https://api.example.com\n/x"}, allowed_hosts=("api.example.com",))
    assert [e.field for e in errors] == ["payload.url"]


def test_a_key_with_a_trailing_newline_is_not_taken_for_a_jwt():
    assert looks_like_jwt("a.b.c") and not looks_like_jwt("a.b.c\n")
