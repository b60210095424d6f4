"""The nightly certification expiry check, as a scheduler handler.

Wiring (bootstrap)::

    registry.add(
        CERTIFICATION_JOB_NAME,
        build_certification_handler_from_settings(settings, resolve_secret),  # builds nothing yet
        CERTIFICATION_DESCRIPTION,
        validate_payload=validate_certification_payload,
        run_options=CERTIFICATION_RUN_OPTIONS,  # force, dryRun: on a trigger only, never stored
    )
    service.register_job(certification_job_definition(settings))   # at startup

A run computes its date from the slot (never the wall clock), makes one call to the
source, and returns the summary ``{"asOf", "paused": {"count", "ids"}, "noticesCreated",
"dryRun", …}``. When the blast-radius guard refuses, it raises
:class:`~chalicelib.core.certification.BlastRadiusExceeded`, so the execution fails,
is retried, and alerts after ``alert_after_failures`` failed attempts.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from chalicelib.core.context import RunContext
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import JobDefinition, RetryPolicy, Trigger
from chalicelib.jobs.certification.rule import (
    PAYLOAD_OPTIONS,
    BlastRadiusExceeded,
    CertificationSource,
    CheckOutcome,
    CheckPolicy,
    check_request,
    parse_options,
    payload_errors,
    run_date,
    summarize,
)
from chalicelib.jobs.registry import HandlerFn

CERTIFICATION_JOB_NAME = "certification-expiry-check"
CERTIFICATION_DESCRIPTION = (
    "Pause peer mentors whose certification has expired and record notices for those about to expire"
)
# One RPC with a 30 s read timeout, up to 4 attempts with backoff, takes at most ~2.5 min.
CERTIFICATION_TIMEOUT_SECONDS = 300
CERTIFICATION_RUN_OPTIONS = PAYLOAD_OPTIONS
"""``dryRun`` and ``force`` choose how one run goes: accepted on a trigger's payload only.
A stored ``force`` would switch the blast-radius guard off for every night."""


def certification_policy(settings: Any) -> CheckPolicy:
    """The check's limits from :class:`~chalicelib.settings.Settings`."""
    return CheckPolicy(
        notice_days=tuple(settings.certification.notice_days),
        max_pause_share=float(settings.certification.max_pause_share),
        max_pause_count=int(settings.certification.max_pause_count),
    )


def certification_job_definition(settings: Any) -> JobDefinition:
    """The job as registered at startup: cron and time zone from settings."""
    return JobDefinition(
        job_name=CERTIFICATION_JOB_NAME,
        cron_expression=settings.certification.cron,
        handler=CERTIFICATION_JOB_NAME,
        timezone=settings.certification.timezone,
        payload={},
        # A failed night is retried after 5 and 10 minutes: long enough for a Supabase
        # blip to pass, short enough to finish well before morning.
        retry=RetryPolicy(max_attempts=3, initial_delay_seconds=300, max_delay_seconds=1800),
        timeout_seconds=CERTIFICATION_TIMEOUT_SECONDS,
        alert_after_failures=3,
        description=CERTIFICATION_DESCRIPTION,
    )


def validate_certification_payload(payload: Mapping[str, Any]) -> list[FieldError]:
    """Registration-time check of a job payload (field names relative to ``payload``)."""
    return payload_errors(payload)


def build_certification_handler_from_settings(settings: Any, resolve_secret: Callable[[str], str]) -> HandlerFn:
    """The production handler: Supabase over PostgREST, configured from settings.

    Nothing is built here: the Supabase client (and the key, read through
    ``resolve_secret`` from ``SUPABASE_SERVICE_KEY_ID`` unless ``SUPABASE_SERVICE_KEY``
    is set) is made on the first run and reused by every later run in this process.
    A missing ``SUPABASE_URL`` fails that run with a message naming the variable.
    """
    lock = threading.Lock()
    built: list[CertificationSource] = []

    def source() -> CertificationSource:
        from chalicelib.jobs.certification.source import PostgrestCertificationSource
        from chalicelib.supabase.client import SupabaseClient

        with lock:
            if not built:
                built.append(PostgrestCertificationSource(SupabaseClient.from_settings(settings, resolve_secret)))
            return built[0]

    return build_certification_handler(source, certification_policy(settings))


def build_certification_handler(
    source_factory: Callable[[], CertificationSource],
    policy: CheckPolicy | None = None,
) -> HandlerFn:
    """The handler. ``source_factory`` is called on each run (cache inside it if wanted)."""
    limits = policy or CheckPolicy()

    def certification_expiry_check(ctx: RunContext) -> dict[str, Any]:
        """Pause peer mentors whose certification has expired; record expiry notices."""
        options = parse_options(ctx.payload)
        if options.force and ctx.trigger in (Trigger.SCHEDULE, Trigger.REPLAY):
            # Only a definition stored before force was refused there can say so. (Their
            # retries never come: this refusal is permanent, so the slot ends here.)
            raise ValidationFailed([FieldError("payload.force", (
                "is a per-run option: a scheduled or replayed run is never forced; remove it from the job's definition "
                "(register the job again without it) and give it on a trigger's payload"))])
        as_of = run_date(ctx.scheduled_for, ctx.timezone)
        request = check_request(as_of, ctx.idempotency_key, options, limits, ctx.triggered_by)
        if request.forced_by and not options.dry_run:  # a dry run changes nothing, forced or not
            ctx.logger.warning("certification check forced past the blast-radius guard",
                               extra={"forced_by": request.forced_by, "as_of": as_of.isoformat()})
        result = source_factory().run_check(request)
        if result.outcome is CheckOutcome.REFUSED:
            ctx.logger.error("certification check refused by the blast-radius guard",
                             extra={"as_of": as_of.isoformat(), "would_pause": result.would_pause,
                                    "active_mentors": result.active_mentors})
            raise BlastRadiusExceeded(result)
        summary = summarize(result, forced_by=request.forced_by)
        ctx.logger.info("certification check done",
                        extra={"as_of": summary["asOf"], "paused": result.paused_count,
                               "notices_created": result.notices_created, "dry_run": summary["dryRun"],
                               "without_certification": result.without_certification})
        return summary

    return certification_expiry_check
