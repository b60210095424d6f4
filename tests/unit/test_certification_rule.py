"""The pure parts of the certification check: run date, options, summary, guard message, handler."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.core.context import RunContext
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import Trigger
from chalicelib.jobs.certification.job import (
    CERTIFICATION_JOB_NAME,
    build_certification_handler,
    certification_job_definition,
    certification_policy,
    validate_certification_payload,
)
from chalicelib.jobs.certification.rule import (
    BlastRadiusExceeded,
    CheckOptions,
    CheckOutcome,
    CheckPolicy,
    CheckRequest,
    CheckResult,
    parse_options,
    run_date,
    summarize,
)
from chalicelib.settings import Settings

UTC = UTC


# --------------------------------------------------------------------------- run date


@pytest.mark.parametrize(("slot", "tz", "expected"), [
    (datetime(2026, 11, 29, 1, 0, tzinfo=UTC), "Europe/Oslo", date(2026, 11, 29)),
    (datetime(2026, 11, 28, 23, 30, tzinfo=UTC), "Europe/Oslo", date(2026, 11, 29)),  # 00:30 CET
    (datetime(2026, 11, 28, 23, 30, tzinfo=UTC), "UTC", date(2026, 11, 28)),
    (datetime(2026, 6, 30, 22, 0, tzinfo=UTC), "Europe/Oslo", date(2026, 7, 1)),  # 00:00 CEST
    (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), "Europe/Oslo", date(2026, 6, 30)),
    (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/Oslo", date(2026, 3, 29)),  # spring-forward night
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Oslo", date(2026, 10, 25)),  # fall-back night
    (datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "America/Los_Angeles", date(2026, 11, 29)),
    (datetime(2026, 11, 29, 7, 59, tzinfo=UTC), "America/Los_Angeles", date(2026, 11, 28)),
])
def test_the_run_date_is_the_local_date_of_the_slot(slot, tz, expected):
    assert run_date(slot, tz) == expected


def test_a_naive_slot_is_refused():
    with pytest.raises(ValueError, match="aware"):
        run_date(datetime(2026, 11, 29, 1, 0), "Europe/Oslo")


# --------------------------------------------------------------------------- options


def test_options_default_to_a_real_guarded_run():
    assert parse_options({}) == CheckOptions(dry_run=False, force=False)


def test_options_are_read_from_the_payload():
    options = parse_options({"dryRun": True, "force": True})
    assert options.dry_run is True and options.force is True


@pytest.mark.parametrize(("payload", "fields"), [
    ({"dryRun": "true"}, ["payload.dryRun"]),
    ({"force": 1}, ["payload.force"]),
    ({"dryRun": None, "force": "yes"}, ["payload.dryRun", "payload.force"]),
    ({"dryrun": True}, ["payload.dryrun"]),
])
def test_wrong_options_name_the_field(payload, fields):
    with pytest.raises(ValidationFailed) as invalid:
        parse_options(payload)
    assert [e.field for e in invalid.value.errors] == fields


def test_registration_validation_names_fields_relative_to_the_payload():
    assert [e.field for e in validate_certification_payload({"force": "no"})] == ["force"]
    assert validate_certification_payload({"dryRun": False}) == []
    assert "unknown option" in validate_certification_payload({"asOf": "2026-01-01"})[0].message


# --------------------------------------------------------------------------- summary and guard


def result(**changes) -> CheckResult:
    base = CheckResult(outcome=CheckOutcome.APPLIED, as_of=date(2026, 11, 29), paused_count=2,
                       paused_ids=("a", "b"), notices_created=5, active_mentors=40, without_certification=1,
                       would_pause=2, notice_days=(30, 7), max_pause_share=0.2, max_pause_count=500)
    return replace(base, **changes)


def test_the_summary_shape():
    assert summarize(result()) == {
        "asOf": "2026-11-29",
        "paused": {"count": 2, "ids": ["a", "b"]},
        "noticesCreated": 5,
        "dryRun": False,
        "force": False,
        "forcedBy": None,
        "activeMentors": 40,
        "withoutCertification": 1,
    }


def test_the_summary_lists_at_most_100_ids():
    many = result(paused_count=250, paused_ids=tuple(str(i) for i in range(250)))
    summary = summarize(many)
    assert summary["paused"]["count"] == 250 and len(summary["paused"]["ids"]) == 100


def test_the_guard_message_says_how_many_why_and_how_to_override():
    refused = result(outcome=CheckOutcome.REFUSED, paused_count=0, paused_ids=(), would_pause=600,
                     active_mentors=1000)
    message = str(BlastRadiusExceeded(refused))
    assert "would pause 600 of 1000 active mentors (60.0%)" in message
    assert "the limit of 500 mentors" in message and "20% of active mentors" in message
    assert "Nothing was changed" in message and '{"force": true}' in message


def test_policy_limits_are_validated():
    with pytest.raises(ValueError):
        CheckPolicy(notice_days=())
    with pytest.raises(ValueError):
        CheckPolicy(max_pause_share=1.5)


# --------------------------------------------------------------------------- handler (with a fake source)


class FakeCertificationSource:
    def __init__(self, answer: CheckResult) -> None:
        self.answer = answer
        self.requests: list[CheckRequest] = []

    def run_check(self, request: CheckRequest) -> CheckResult:
        self.requests.append(request)
        return replace(self.answer, as_of=request.as_of)

    def paused_mentor_ids(self, idempotency_key: str) -> list[str]:
        return list(self.answer.paused_ids)


def ctx(slot: datetime, payload=None, key="certification-expiry-check@slot") -> RunContext:
    return RunContext(job_name=CERTIFICATION_JOB_NAME, execution_id="e1", scheduled_for=slot, attempt=1,
                      trigger=Trigger.SCHEDULE, idempotency_key=key, payload=payload or {},
                      timezone="Europe/Oslo", logger=logging.getLogger("test"))


def test_the_handler_asks_the_source_for_the_slots_local_date_with_the_run_key():
    source = FakeCertificationSource(result())
    policy = CheckPolicy(notice_days=(14, 3), max_pause_share=0.1, max_pause_count=50)
    handler = build_certification_handler(lambda: source, policy)

    summary = handler(ctx(datetime(2026, 11, 28, 23, 30, tzinfo=UTC), {"dryRun": True}, key="k@1"))

    assert source.requests == [CheckRequest(as_of=date(2026, 11, 29), idempotency_key="k@1", notice_days=(14, 3),
                                            dry_run=True, force=False, max_pause_share=0.1, max_pause_count=50)]
    assert summary["asOf"] == "2026-11-29"


def test_the_handler_fails_the_run_when_the_guard_refuses():
    source = FakeCertificationSource(result(outcome=CheckOutcome.REFUSED, would_pause=30, active_mentors=40))
    handler = build_certification_handler(lambda: source)

    with pytest.raises(BlastRadiusExceeded, match="would pause 30 of 40"):
        handler(ctx(datetime(2026, 11, 29, 1, 0, tzinfo=UTC)))


def test_a_dry_run_summary_says_so():
    source = FakeCertificationSource(result(outcome=CheckOutcome.DRY_RUN))
    summary = build_certification_handler(lambda: source)(ctx(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), {"dryRun": True}))
    assert summary["dryRun"] is True


def test_a_scheduled_run_is_never_forced_by_a_definition_stored_before_force_was_refused_there():
    source = FakeCertificationSource(result())
    handler = build_certification_handler(lambda: source)

    with pytest.raises(ValidationFailed) as refused:
        handler(ctx(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), {"force": True}))
    assert [e.field for e in refused.value.errors] == ["payload.force"] and source.requests == []
    with pytest.raises(ValidationFailed):  # a replay of a past night runs the stored definition too
        handler(replace(ctx(datetime(2026, 11, 28, 1, 0, tzinfo=UTC), {"force": True}), trigger=Trigger.REPLAY))
    assert source.requests == []

    manual = replace(ctx(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), {"force": True}), trigger=Trigger.MANUAL,
                     triggered_by="ops-anna (admin)")
    handler(manual)
    assert [(r.force, r.forced_by) for r in source.requests] == [(True, "ops-anna (admin)")]


# --------------------------------------------------------------------------- registration


def test_the_job_definition_comes_from_settings():
    settings = Settings.from_env({"CERT_CHECK_CRON": "30 3 * * *", "CERT_CHECK_TIMEZONE": "Europe/Stockholm"})
    job = certification_job_definition(settings)

    assert job.job_name == job.handler == "certification-expiry-check"
    assert (job.cron_expression, job.timezone) == ("30 3 * * *", "Europe/Stockholm")
    assert job.retry.max_attempts == 3 and job.alert_after_failures == 3
    assert 60 <= job.timeout_seconds <= 900


def test_the_defaults_are_2am_oslo_30_and_7_days_20_percent():
    settings = Settings.from_env({})
    job = certification_job_definition(settings)
    policy = certification_policy(settings)

    assert (job.cron_expression, job.timezone) == ("0 2 * * *", "Europe/Oslo")
    assert policy == CheckPolicy(notice_days=(30, 7), max_pause_share=0.2, max_pause_count=500)
