"""One rule for "looks like a credential": what a header refuses, every log line and error
message loses."""
from __future__ import annotations

import pytest

from chalicelib.core import credentials
from chalicelib.core.run_log import scrub
from chalicelib.jobs.http_request import secrets
from chalicelib.supabase import client

CREDENTIALS = [
    "Bearer abcdefgh1234",
    "Digest username8chars",
    "basic dXNlcjpwYXNzd29yZA==",
    "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.",
    "sb_secret_0123456789abcdef",
]


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_a_value_refused_as_a_credential_is_scrubbed_from_a_run_log_line(credential):
    assert credentials.looks_like_credential(credential)
    line = scrub(f"upstream said: {credential} is not welcome")
    assert line == "upstream said: *** is not welcome"


def test_every_module_asks_the_one_rule():
    assert secrets.looks_like_credential is credentials.looks_like_credential
    assert secrets.holds_credential is credentials.holds_credential
    assert client.looks_like_jwt is credentials.looks_like_jwt


@pytest.mark.parametrize("text", ["a basic plan", "Bearer short", "the key was eyJ."])
def test_prose_is_not_scrubbed(text):
    assert scrub(text) == text


def test_a_slack_webhook_and_a_publishable_key_are_scrubbed_but_a_publishable_key_is_not_refused():
    assert scrub('{"url": "https://hooks.slack.com/services/T0/B0/xyz"}') == '{"url": "***"}'
    assert scrub("key sb_publishable_abc123") == "key ***"
    assert not credentials.holds_credential("sb_publishable_abc123")
