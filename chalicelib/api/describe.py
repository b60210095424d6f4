"""A cron expression in plain words, by cron-descriptor (a maintained library, not our phrasing)."""
from __future__ import annotations

from functools import lru_cache

from chalicelib.core.cron import NICKNAMES


@lru_cache(maxsize=4096)
def describe(expression: str) -> str:
    """E.g. '0 2 * * *' -> 'At 02:00'. Nicknames are described as their five fields.

    Cached per expression: a job listing describes each job's schedule, and a thousand jobs
    share a handful of expressions (the words do not depend on the zone, shown beside them)."""
    from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, Options  # the API's own import

    options = Options()
    options.use_24hour_time_format = True
    options.casing_type = CasingTypeEnum.Sentence
    options.day_of_week_start_index_zero = True
    five = NICKNAMES.get(expression.lower(), expression)
    try:
        return str(ExpressionDescriptor(five, options).get_description())
    except Exception:  # noqa: BLE001 - the words are a courtesy; the expression was validated already
        return five
