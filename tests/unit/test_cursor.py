"""Page tokens: what encode_cursor issues, decode_cursor gives back; nothing else passes."""
from __future__ import annotations

import base64
import json

import pytest

from chalicelib.core.cursor import MAX_TOKEN_LENGTH, decode_cursor, encode_cursor
from chalicelib.core.errors import InvalidCursor

DATA = {"k": "executions", "job": "nightly-report", "before": "20261128T200000000Z-a01", "n": 3, "x": None}


def test_a_token_decodes_to_what_was_encoded():
    assert decode_cursor(encode_cursor(DATA)) == DATA


def test_a_token_is_url_safe():
    token = encode_cursor({"after": "ü/+?&=" * 5})
    assert all(c.isalnum() or c in "-_." for c in token)


def test_changing_any_single_character_is_detected():
    token = encode_cursor(DATA)
    for i, char in enumerate(token):
        for replacement in {"A", "B", "-", "_", "."} - {char}:
            with pytest.raises(InvalidCursor):
                decode_cursor(token[:i] + replacement + token[i + 1 :])


def test_a_forged_payload_with_the_old_checksum_is_detected():
    token = encode_cursor({"after": "job-01"})
    payload, checksum = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"after": "job-99"}).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        decode_cursor(f"{forged}.{checksum}")


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "not a token", "é.é", "\x00", "eyJ9.AAAAAAAAAAAAAAAA"],
)
def test_garbage_is_refused(token):
    with pytest.raises(InvalidCursor):
        decode_cursor(token)


def test_an_over_long_token_is_refused():
    with pytest.raises(InvalidCursor):
        decode_cursor("A" * (MAX_TOKEN_LENGTH + 1))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(DATA) + "A" * MAX_TOKEN_LENGTH)


def test_a_non_string_is_refused():
    with pytest.raises(InvalidCursor):
        decode_cursor(None)  # type: ignore[arg-type]


def test_only_a_dict_can_be_encoded():
    with pytest.raises(TypeError):
        encode_cursor(["a"])  # type: ignore[arg-type]
