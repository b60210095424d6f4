"""Maintenance windows and pauses with an end: when the scheduler should not run a job.

Pure: values, request parsing and the coverage rule. A window ``[from, to)`` covers the
jobs it names (``jobs``), every job of one ``owner``, or ``all`` jobs; a slot of a covered
job inside it is recorded ``skipped`` (see :func:`chalicelib.core.scheduler.transitions.plan`).
The stores keep every window in one record (``Store.maintenance_windows``), so a tick
reads them once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from chalicelib.core.definitions import validate_job_name
from chalicelib.core.errors import FieldError, SchedulerError, ValidationFailed
from chalicelib.core.model import Actor, Job, iso, parse_iso

MAX_WINDOW = timedelta(days=7)
MAX_AHEAD = timedelta(days=90)
"""A window may start, and a pause end, at most this far ahead."""
KEPT_AFTER_END = timedelta(days=7)
"""Ended windows stay listed (and stored) this long, then are dropped."""
MAX_STORED = 100
"""Windows held at once (current, upcoming and recently ended): one record holds them all."""
MAX_JOBS = 100
MAX_REASON = 500
OWNER_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
WINDOW_ID_PATTERN = re.compile(r"mw-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
FIELDS = {"from", "to", "reason", "jobs", "owner", "all", "runMissed"}


class MaintenanceWindowNotFound(SchedulerError):
    """No stored window has this id (404)."""

    def __init__(self, window_id: str):
        self.window_id = window_id
        super().__init__(f"No maintenance window '{window_id}' (windows are kept 7 days after they end).")


@dataclass(frozen=True)
class MaintenanceWindow:
    """``[starts_at, ends_at)`` during which covered jobs' slots are skipped.

    Exactly one of ``jobs`` (names), ``owner`` or ``all_jobs`` says what it covers.
    ``run_missed``: once it ends, each covered job runs its latest skipped slot once.
    ``ended_by`` is set when someone ended it early (``ends_at`` is then that moment).
    """

    window_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime
    jobs: tuple[str, ...] = ()
    owner: str | None = None
    all_jobs: bool = False
    run_missed: bool = False
    created_by: Actor | None = None
    ended_by: Actor | None = None

    def covers_job(self, job: Job) -> bool:
        """True when the window applies to ``job`` (by name, owner, or all)."""
        if self.all_jobs:
            return True
        if self.owner is not None:
            # ``owner`` is read defensively: it arrives with issue 17 part 1.
            owner = getattr(job.definition, "owner", None) or getattr(job, "owner", None)
            return owner == self.owner
        return job.name in self.jobs

    def contains(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


def window_covering(job: Job, slot: datetime, windows: Iterable[MaintenanceWindow]) -> MaintenanceWindow | None:
    """The window that holds ``slot`` of ``job``, or None.

    When several overlapping windows hold it, the one that started first (then the lower
    id) is named: a slot is skipped once, by one window, whatever their order.
    """
    covering = [w for w in windows if w.contains(slot) and w.covers_job(job)]
    return min(covering, key=lambda w: (w.starts_at, w.window_id)) if covering else None


def covered_until(job: Job, moment: datetime, windows: Iterable[MaintenanceWindow]) -> datetime | None:
    """When the windows covering ``job`` at ``moment`` (overlapping ones chained) end, or
    None when none covers it then."""
    applicable = [w for w in windows if w.covers_job(job)]
    end: datetime | None = None
    probe = moment
    while True:
        holding = [w.ends_at for w in applicable if w.contains(probe)]
        if not holding:
            return end
        end = probe = max(holding)


def skip_reason(window: MaintenanceWindow) -> str:
    """``skipReason`` of a slot the window holds: names the window and says why."""
    return f"maintenance window {window.window_id} ({iso(window.starts_at)} to {iso(window.ends_at)}): {window.reason}"


def window_id_for(now: datetime, random_value: float) -> str:
    """``mw-<creation UTC>-<6 hex digits>``: sortable by creation, unlikely to collide."""
    return f"mw-{now.strftime('%Y%m%dT%H%M%S')}-{int(random_value * 0xFFFFFF):06x}"


def next_window_id(window_id: str) -> str:
    """The id after ``window_id`` in its second (its suffix plus one)."""
    prefix, suffix = window_id.rsplit("-", 1)
    return f"{prefix}-{(int(suffix, 16) + 1) % 0x1000000:06x}"


def validate_window_id(value: str) -> str:
    if not WINDOW_ID_PATTERN.fullmatch(value):
        raise ValidationFailed([FieldError("id", "is not a maintenance window id this API issued")])
    return value


def validate_pause_until(until: datetime | None, now: datetime) -> datetime | None:
    """A pause's end: in the future, at most :data:`MAX_AHEAD` ahead (400 naming ``until``)."""
    if until is None:
        return None
    if until <= now:
        raise ValidationFailed([FieldError("until", f"must be in the future (now is {iso(now)})")])
    if until > now + MAX_AHEAD:
        raise ValidationFailed([FieldError("until", "must be at most 90 days ahead")])
    return until


def parse_instant(value: Any, field: str) -> datetime:
    """An ISO-8601 instant with an offset or ``Z``; 400 naming ``field`` otherwise."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationFailed([FieldError(field, "must be an ISO-8601 timestamp with an offset, like 2026-10-25T01:00:00Z")])
    try:
        return parse_iso(value)
    except ValueError:
        raise ValidationFailed([FieldError(
            field, "must be an ISO-8601 timestamp with an offset, like 2026-10-25T01:00:00Z")]) from None


def parse_window(body: Any, *, now: datetime, window_id: str, actor: Actor | None) -> MaintenanceWindow:
    """A ``POST /maintenance-windows`` body as a window; ``ValidationFailed`` names every bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object with from, to, reason and one of "
                                                   "jobs, owner or all")])
    errors = [FieldError(name, "is not a field of a maintenance window") for name in sorted(set(body) - FIELDS)]
    starts = ends = None
    for name in ("from", "to"):
        try:
            value = parse_instant(body.get(name), name)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            continue
        if name == "from":
            starts = value
        else:
            ends = value
    if starts is not None and starts > now + MAX_AHEAD:
        errors.append(FieldError("from", "must be at most 90 days ahead"))
    if starts is not None and ends is not None:
        if ends <= starts:
            errors.append(FieldError("to", "must be after from"))
        elif ends - starts > MAX_WINDOW:
            errors.append(FieldError("to", "must be at most 7 days after from"))
        elif ends <= now:
            errors.append(FieldError("to", f"must be in the future (now is {iso(now)})"))
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        errors.append(FieldError("reason", f"must be a non-empty string of at most {MAX_REASON} characters"))
    run_missed = body.get("runMissed", False)
    if not isinstance(run_missed, bool):
        errors.append(FieldError("runMissed", "must be true or false"))
    jobs, owner, all_jobs = _scope(body, errors)
    if errors:
        raise ValidationFailed(errors)
    assert starts is not None and ends is not None and isinstance(reason, str)
    return MaintenanceWindow(window_id=window_id, starts_at=starts, ends_at=ends, reason=reason, created_at=now,
                             jobs=jobs, owner=owner, all_jobs=all_jobs, run_missed=run_missed, created_by=actor)


def _scope(body: dict[str, Any], errors: list[FieldError]) -> tuple[tuple[str, ...], str | None, bool]:
    given = [name for name in ("jobs", "owner", "all") if name in body]
    if len(given) != 1:
        errors.extend(FieldError(field, "give exactly one of jobs (a list of job names), owner or all (true)")
                      for field in (given or ["jobs"]))
        return (), None, False
    if "all" in body:
        if body["all"] is not True:
            errors.append(FieldError("all", "must be true (or give jobs or owner instead)"))
        return (), None, True
    if "owner" in body:
        owner = body["owner"]
        if not isinstance(owner, str) or not OWNER_PATTERN.fullmatch(owner):
            errors.append(FieldError("owner", "must be an owner label (pattern ^[a-z0-9][a-z0-9-]{0,62}$)"))
            return (), None, False
        return (), owner, False
    jobs = body["jobs"]
    if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_JOBS:
        errors.append(FieldError("jobs", f"must be a list of 1 to {MAX_JOBS} job names"))
        return (), None, False
    names: list[str] = []
    for index, name in enumerate(jobs):
        try:
            names.append(validate_job_name(name, f"jobs[{index}]"))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return tuple(dict.fromkeys(names)), None, False


def listed(windows: Sequence[MaintenanceWindow], now: datetime) -> list[MaintenanceWindow]:
    """Current and upcoming windows and those that ended within :data:`KEPT_AFTER_END`,
    by start."""
    return sorted((w for w in windows if w.ends_at > now - KEPT_AFTER_END), key=lambda w: (w.starts_at, w.window_id))


def end_now(window: MaintenanceWindow, now: datetime, actor: Actor | None) -> MaintenanceWindow:
    """The window ended at ``now`` (an upcoming one is over before it began)."""
    if window.ends_at <= now:
        return window
    return replace(window, ends_at=max(now, window.starts_at), ended_by=actor)


def status_of(window: MaintenanceWindow, now: datetime) -> str:
    """``upcoming``, ``active`` or ``ended`` (an upcoming window ended early is ``ended``)."""
    if now >= window.ends_at or window.ends_at <= window.starts_at:
        return "ended"
    return "upcoming" if now < window.starts_at else "active"
