"""Cron expressions and their slots in a time zone, by Debian cron's rules.

``fields``   the five fields, their ranges and names, the nicknames
``grammar``  the accepted grammar: validation and compilation to sets
``advice``   the five-field form of foreign syntax (AWS cron(...), six fields, rate(...))
``zones``    which IANA names a job may use
``dst``      local wall-clock times to UTC instants across daylight-saving changes
``slots``    :class:`CronSchedule`: next, previous and counted slots
"""
from __future__ import annotations

from chalicelib.core.cron.errors import CRON_FIELD, TIMEZONE_FIELD
from chalicelib.core.cron.fields import NICKNAMES
from chalicelib.core.cron.grammar import validate_cron
from chalicelib.core.cron.slots import CronSchedule
from chalicelib.core.cron.zones import validate_timezone

__all__ = ["CRON_FIELD", "NICKNAMES", "TIMEZONE_FIELD", "CronSchedule", "validate_cron", "validate_timezone"]
