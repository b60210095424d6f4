"""Advice for foreign syntax: the five-field form of AWS ``cron(...)``, six or seven
fields (Quartz/Spring seconds, AWS year) and ``rate(...)``.

Each function returns the message for a refusal; ``is_valid`` is the grammar's own
check of a five-field candidate, passed in so this module stays apart from it.
"""
from __future__ import annotations

import re
from typing import Callable

from chalicelib.core.cron.fields import DOW_NAMES

_YEAR = re.compile(r"\d{4}(?:-\d{4})?(?:/\d+)?(?:,\d{4}(?:-\d{4})?(?:/\d+)?)*")  # fullmatch, never '$'
_RATE = re.compile(r"rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)", re.IGNORECASE)

Validity = Callable[[str], bool]


def extra_fields_message(fields: list[str], is_valid: Validity) -> str:
    """Six or seven fields: name the five-field form the writer most likely meant.

    Rule: a sixth field that looks like a year (or a '?' in an AWS day position) means
    AWS order, minute..day-of-week then year: keep the first five. Otherwise the first
    field is taken as seconds (Quartz/Spring order, the common six- and seven-field
    form): keep the next five. When croniter's own reading (seconds last) gives a
    different valid expression, the message offers that too.
    """
    count = len(fields)
    plain = [f.replace("?", "*") for f in fields]
    aws_order = count == 6 and ("?" in fields[2] or "?" in fields[4] or _YEAR.fullmatch(fields[5]) is not None)
    first_five, seconds_first = " ".join(plain[:5]), " ".join(plain[1:6])
    lead = (
        f"'{' '.join(fields)}' has {count} fields, but this scheduler takes five-field cron "
        f"(croniter would silently read the {'sixth' if count == 6 else 'sixth and seventh'} "
        f"field{'' if count == 6 else 's'} as {'seconds' if count == 6 else 'seconds and year'})."
    )
    if aws_order and is_valid(first_five):
        return f"{lead} The last field looks like a year, so drop it: write it as five fields: '{first_five}'."
    if is_valid(seconds_first):
        text = f"{lead} Reading the first field as seconds (Quartz/Spring order), write it as five fields: '{seconds_first}'."
        if count == 6 and "?" not in fields and first_five != seconds_first and is_valid(first_five):
            text += f" If the last field was meant as seconds, write '{first_five}'."
        return text
    if is_valid(first_five):
        return f"{lead} Dropping the extra field{'s' if count == 7 else ''}, write it as five fields: '{first_five}'."
    return lead


def aws_cron_message(text: str, is_valid: Validity) -> str:
    """AWS ``cron(min hour dom month dow year)``: '?' becomes '*', the year goes, DOW 1-7 becomes 0-6."""
    lead = "AWS EventBridge 'cron(...)' expressions are not accepted here"
    inner = text[text.index("(") + 1 :]
    if not inner.endswith(")"):
        return f"{lead}."
    fields = inner[:-1].split()
    if len(fields) != 6:
        return f"{lead}; an AWS cron expression has six fields."
    dow = aws_dow_to_cron(fields[4].replace("?", "*"))
    if dow is None:
        return f"{lead}, and '{' '.join(fields)}' has no exact five-field equivalent."
    five = " ".join([*(f.replace("?", "*") for f in fields[:4]), dow])
    if not is_valid(five):
        return f"{lead}, and '{' '.join(fields)}' has no exact five-field equivalent."
    aws_dow = fields[4].replace("?", "*")
    renumbered = (
        f", and day-of-week '{aws_dow}' becomes '{dow}' because AWS counts 1-7 from Sunday where cron counts 0-6"
        if dow != aws_dow
        else ""
    )
    return f"{lead}: write it as five fields: '{five}' ('?' becomes '*', the year field is dropped{renumbered})."


def aws_dow_to_cron(field: str) -> str | None:
    """AWS day-of-week (1 = SUN .. 7 = SAT) in cron numbering (0 = SUN), or None."""
    items = []
    for item in field.split(","):
        base, _, step = item.partition("/")
        parts = base.split("-")
        converted = []
        for part in parts:
            if part == "*" or part.lower() in DOW_NAMES:
                converted.append(part)
            elif part.isascii() and part.isdigit() and 1 <= int(part) <= 7:
                converted.append(str(int(part) - 1))
            else:
                return None  # L, #, W and friends have no Debian form
        items.append("-".join(converted) + (f"/{step}" if step else ""))
    return ",".join(items)


def rate_message(text: str) -> str:
    lead = "'rate(...)' expressions are not accepted: slots here are clock-aligned cron slots"
    match = _RATE.fullmatch(text)
    if not match:
        return f"{lead}."
    amount, unit = int(match[1]), match[2].lower().rstrip("s")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit]
    if minutes == 0:
        return f"{lead}, and {match[0]} is not a schedule."
    if minutes == 1:
        five = "* * * * *"
    elif minutes < 60 and 60 % minutes == 0:
        five = f"*/{minutes} * * * *"
    elif minutes == 60:
        five = "0 * * * *"
    elif minutes < 1440 and minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        five = f"0 */{minutes // 60} * * *"
    elif minutes == 1440:
        five = "0 0 * * *"
    else:
        return f"{lead}, and {match[0]} has no exact five-field equivalent."
    return f"{lead}; write it as five fields: '{five}'."
