"""The certification expiry check: its rule, options, port and result (pure).

The rule (applied in the database, see ``infra/supabase/migrations/0003_*.sql``)
--------------------------------------------------------------------------------
* A mentor is certified through the latest ``expires_on`` among their certifications.
* The run date (``as_of``) is the local date of the run's slot in the job's time zone
  (:func:`run_date`), so every attempt of one night computes the same date, and a slot
  at 23:30 UTC belongs to the next day in Oslo.
* Latest ``expires_on`` before ``as_of`` and mentor ``active``: paused with reason
  ``certification_expired`` and an audit event carrying the run's idempotency key.
* Latest ``expires_on`` within N days of ``as_of`` (N in ``notice_days``, default 30
  and 7): one notice per certification and threshold, never repeated.
* Paused and inactive mentors are not touched; nothing is reactivated. Active mentors
  with no certification at all are not touched either; they are counted.
* Blast-radius guard: if a run would pause more than ``max_pause_share`` of the
  active mentors, or more than ``max_pause_count``, it changes nothing and the run
  fails with :class:`BlastRadiusExceeded`; ``{"force": true}`` in the payload
  overrides it for that run. ``{"dryRun": true}`` reports and changes nothing.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo

from chalicelib.core.errors import FieldError, SchedulerError, ValidationFailed

MAX_REPORTED_IDS = 100
PAYLOAD_OPTIONS = ("dryRun", "force")


def run_date(scheduled_for: datetime, timezone: str) -> date:
    """The local date of the slot ``scheduled_for`` in ``timezone``.

    Uses the slot, never the wall clock, so a retry hours later computes the same date.
    """
    if scheduled_for.tzinfo is None:
        raise ValueError("scheduled_for must be an aware datetime")
    return scheduled_for.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class CheckOptions:
    """What a run's payload may choose."""

    dry_run: bool = False
    force: bool = False


def payload_errors(payload: Mapping[str, Any], *, prefix: str = "") -> list[FieldError]:
    """Every problem with a payload's check options; field names get ``prefix``."""
    errors: list[FieldError] = []
    if not isinstance(payload, Mapping):
        return [FieldError(prefix.rstrip(".") or "payload", "must be a JSON object")]
    for name in PAYLOAD_OPTIONS:
        if name in payload and not isinstance(payload[name], bool):
            errors.append(FieldError(f"{prefix}{name}", f"must be true or false, got {type(payload[name]).__name__}"))
    for name in payload:
        if name not in PAYLOAD_OPTIONS:
            errors.append(FieldError(f"{prefix}{name}", f"unknown option; the check accepts {', '.join(PAYLOAD_OPTIONS)}"))
    return errors


def parse_options(payload: Mapping[str, Any]) -> CheckOptions:
    """The options of one run; raises ``ValidationFailed`` naming ``payload.<field>``."""
    errors = payload_errors(payload, prefix="payload.")
    if errors:
        raise ValidationFailed(errors)
    return CheckOptions(dry_run=payload.get("dryRun", False), force=payload.get("force", False))


@dataclass(frozen=True)
class CheckPolicy:
    """The configured limits of the check (settings ``CERT_CHECK_*``)."""

    notice_days: tuple[int, ...] = (30, 7)
    max_pause_share: float = 0.2
    max_pause_count: int = 500

    def __post_init__(self) -> None:
        if not self.notice_days or any(d <= 0 for d in self.notice_days):
            raise ValueError("notice_days must be positive whole days")
        if not 0 <= self.max_pause_share <= 1:
            raise ValueError("max_pause_share must be between 0 and 1")
        if self.max_pause_count < 0:
            raise ValueError("max_pause_count must be zero or more")


@dataclass(frozen=True)
class CheckRequest:
    """One run of the check, as the source receives it."""

    as_of: date
    idempotency_key: str
    notice_days: tuple[int, ...] = (30, 7)
    dry_run: bool = False
    force: bool = False
    max_pause_share: float = 0.2
    max_pause_count: int = 500
    forced_by: str | None = None  # who forced the run ("subject (role)"), written on its status events


class CheckOutcome(str, enum.Enum):
    APPLIED = "applied"
    DRY_RUN = "dry_run"
    REFUSED = "refused"  # the blast-radius guard stopped the run; nothing changed


@dataclass(frozen=True)
class CheckResult:
    """What the source reports.

    ``paused_count`` and ``notices_created`` count everything done under the request's
    idempotency key (earlier attempts of the same slot included), so a retry whose
    first attempt committed reports the same figures. In a dry run they are what would
    be done. ``would_pause`` is how many this attempt found to pause.
    """

    outcome: CheckOutcome
    as_of: date
    paused_count: int
    paused_ids: tuple[str, ...]
    notices_created: int
    active_mentors: int
    without_certification: int
    would_pause: int
    force: bool = False
    notice_days: tuple[int, ...] = ()
    max_pause_share: float = 0.0
    max_pause_count: int = 0


class CertificationSource(Protocol):
    """Where mentors and certifications live (Supabase over PostgREST in production).

    Contract
    --------
    ``run_check`` applies the rule above for ``request.as_of`` atomically: either every
    change of the run is made or none is (a crash or a lost answer leaves no partial
    state that a retry could double). It is idempotent per ``idempotency_key``: calling
    it again with the same request changes nothing more and reports the same figures.
    When the guard refuses (and ``force`` is false) it changes nothing and returns
    outcome ``REFUSED``; with ``dry_run`` it changes nothing and returns ``DRY_RUN``.
    It raises on transport or storage failure after its own retries.
    """

    def run_check(self, request: CheckRequest) -> CheckResult:
        """Apply (or, in a dry run, evaluate) the check for one run."""

    def paused_mentor_ids(self, idempotency_key: str) -> Sequence[str]:
        """Every mentor paused under ``idempotency_key`` (all of them, not only 100)."""


class BlastRadiusExceeded(SchedulerError):
    """The run would pause more mentors than the guard allows; nothing was changed."""

    def __init__(self, result: CheckResult):
        self.result = result
        share = result.would_pause / result.active_mentors if result.active_mentors else 0.0
        limits = []
        if result.would_pause > result.max_pause_count:
            limits.append(f"the limit of {result.max_pause_count} mentors (CERT_CHECK_MAX_PAUSE_COUNT)")
        if result.would_pause > result.max_pause_share * result.active_mentors:
            limits.append(f"the limit of {result.max_pause_share:.0%} of active mentors (CERT_CHECK_MAX_PAUSE_SHARE)")
        super().__init__(
            f"Certification check for {result.as_of.isoformat()} refused: it would pause {result.would_pause} "
            f"of {result.active_mentors} active mentors ({share:.1%}), above {' and '.join(limits) or 'the limit'}. "
            "Nothing was changed. Check the certification data; if the pauses are right, "
            'trigger the job again with {"force": true} to override.'
        )


def summarize(result: CheckResult, *, max_ids: int = MAX_REPORTED_IDS, forced_by: str | None = None) -> dict[str, Any]:
    """The execution's ``result`` (bounded: at most ``max_ids`` mentor ids). A forced run
    says who forced it (``forcedBy``): it overrode the blast-radius guard."""
    return {
        "asOf": result.as_of.isoformat(),
        "paused": {"count": result.paused_count, "ids": list(result.paused_ids[:max_ids])},
        "noticesCreated": result.notices_created,
        "dryRun": result.outcome is CheckOutcome.DRY_RUN,
        "force": result.force,
        "forcedBy": forced_by if result.force else None,
        "activeMentors": result.active_mentors,
        "withoutCertification": result.without_certification,
    }


def check_request(as_of: date, idempotency_key: str, options: CheckOptions, policy: CheckPolicy,
                  triggered_by: str | None = None) -> CheckRequest:
    """The source's request. A forced run names who forced it (a scheduled run cannot be
    forced: ``force`` comes from a manual trigger's payload; "unknown" if no caller)."""
    return CheckRequest(
        forced_by=(triggered_by or "unknown") if options.force else None,
        as_of=as_of,
        idempotency_key=idempotency_key,
        notice_days=tuple(policy.notice_days),
        dry_run=options.dry_run,
        force=options.force,
        max_pause_share=policy.max_pause_share,
        max_pause_count=policy.max_pause_count,
    )
