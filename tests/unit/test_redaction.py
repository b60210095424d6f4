"""The scrubber on texts cut at a limit and on numbers (issue 20 review, F1 and F2)."""
from __future__ import annotations

import pytest

from chalicelib.core.redaction import Scrubber

KEY = "sb_secret_Zq9XkLm2Pw7RtYv4Nb8Hc3Jd"


@pytest.mark.parametrize("kept", [6, 12, len(KEY) - 1])
def test_a_secrets_first_part_at_the_end_of_a_cut_text_is_scrubbed(kept: int) -> None:
    scrub = Scrubber([KEY])
    assert scrub("answer: " + KEY[:kept], cut_end=True) == "answer: ***"
    assert scrub("answer: " + KEY[:kept].upper(), cut_end=True) == "answer: ***"
    assert scrub(KEY[-kept:] + " and more", cut_start=True) == "*** and more"


def test_a_cut_encoded_form_is_scrubbed_too() -> None:
    hexed = KEY.encode().hex()
    assert Scrubber([KEY])("x " + hexed[:30], cut_end=True) == "x ***"


def test_a_text_that_was_not_cut_keeps_its_ending_and_a_short_match_is_not_a_fragment() -> None:
    scrub = Scrubber([KEY])
    assert scrub("answer: " + KEY[:12]) == "answer: " + KEY[:12]
    assert scrub("ends with sb_se", cut_end=True) == "ends with sb_se"  # 5 characters: not taken


def test_numbers_whose_json_text_holds_a_secret_are_scrubbed_in_data() -> None:
    scrub = Scrubber(["83917265"])
    data = {"pin": 83917265, "f": 83917265.0, "in": [183917265], "other": 7, "flag": True}
    assert scrub.value(data) == {"pin": "***", "f": "***", "in": ["***"], "other": 7, "flag": True}
