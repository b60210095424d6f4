"""The certification source backed by Supabase (PostgREST).

One run of the check is one request: ``POST /rest/v1/rpc/certification_expiry_check``
(migration 0003), which does all of the run's work in one database transaction. The
full list of mentors a run paused, which can exceed the 100 ids of the summary, is read
page by page from ``peer_mentor_status_events``.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from chalicelib.jobs.certification.rule import CheckOutcome, CheckRequest, CheckResult
from chalicelib.supabase.client import SupabaseClient, SupabaseError

CHECK_FUNCTION = "certification_expiry_check"


class PostgrestCertificationSource:
    """:class:`~chalicelib.core.certification.CertificationSource` over Supabase's REST API."""

    def __init__(self, client: SupabaseClient) -> None:
        self._client = client

    def run_check(self, request: CheckRequest) -> CheckResult:
        answer = self._client.rpc(
            CHECK_FUNCTION,
            {
                "p_as_of": request.as_of.isoformat(),
                "p_idempotency_key": request.idempotency_key,
                "p_notice_days": list(request.notice_days),
                "p_dry_run": request.dry_run,
                "p_force": request.force,
                "p_max_pause_share": request.max_pause_share,
                "p_max_pause_count": request.max_pause_count,
                "p_forced_by": request.forced_by,
            },
        )
        return _result(answer)

    def paused_mentor_ids(self, idempotency_key: str) -> list[str]:
        rows = self._client.iter_rows(
            "peer_mentor_status_events",
            columns="id,peer_mentor_id",
            filters=[("idempotency_key", f"eq.{idempotency_key}"), ("to_status", "eq.paused"),
                     ("reason", "eq.certification_expired")],
            order="id.asc",
        )
        seen: dict[str, None] = {}
        for row in rows:
            seen.setdefault(row["peer_mentor_id"], None)
        return list(seen)


def _result(answer: Any) -> CheckResult:
    if not isinstance(answer, Mapping):
        raise SupabaseError(operation=f"POST /rest/v1/rpc/{CHECK_FUNCTION}", status=200, code=None,
                            message=f"unexpected answer of type {type(answer).__name__}; is migration 0003 applied?")
    try:
        paused = answer["paused"]
        return CheckResult(
            outcome=CheckOutcome(answer["outcome"]),
            as_of=date.fromisoformat(answer["asOf"]),
            paused_count=int(paused["count"]),
            paused_ids=tuple(str(i) for i in paused["ids"]),
            notices_created=int(answer["noticesCreated"]),
            active_mentors=int(answer["activeMentors"]),
            without_certification=int(answer["withoutCertification"]),
            would_pause=int(answer["wouldPause"]),
            force=bool(answer.get("force", False)),
            notice_days=tuple(int(d) for d in answer.get("noticeDays") or ()),
            max_pause_share=float(answer.get("maxPauseShare", 0)),
            max_pause_count=int(answer.get("maxPauseCount", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SupabaseError(operation=f"POST /rest/v1/rpc/{CHECK_FUNCTION}", status=200, code=None,
                            message=f"unexpected answer shape ({exc!r}); is migration 0003 applied?") from exc
