"""The JSON shapes of API.md: ``Job`` and ``Execution`` resources in camelCase."""
from __future__ import annotations

from typing import Any

from chalicelib.core.definitions import definition_to_body
from chalicelib.core.model import Execution, Job, iso


def _iso_or_none(value: Any) -> str | None:
    return iso(value) if value is not None else None


def execution_view(execution: Execution) -> dict[str, Any]:
    return {
        "executionId": execution.execution_id,
        "jobName": execution.job_name,
        "trigger": execution.trigger.value,
        "scheduledFor": iso(execution.scheduled_for),
        "attempt": execution.attempt,
        "status": execution.status.value,
        "queuedAt": iso(execution.created_at),
        "startedAt": _iso_or_none(execution.started_at),
        "finishedAt": _iso_or_none(execution.finished_at),
        "durationMs": execution.duration_ms,
        "result": execution.result,
        "error": None if execution.error is None else {"type": execution.error.type, "message": execution.error.message},
        "idempotencyKey": execution.idempotency_key,
        "payloadOverride": dict(execution.payload_override),
    }


def job_view(job: Job) -> dict[str, Any]:
    body = definition_to_body(job.definition)
    body.update({
        "state": job.state.value,
        "pauseReason": job.pause_reason,
        "nextRunAt": _iso_or_none(job.next_run_at) if job.state.value == "active" else None,
        "consecutiveFailures": job.consecutive_failures,
        "alertState": job.alert_state.value,
        "lastExecution": execution_view(job.last_execution) if job.last_execution else None,
        "lastSuccessAt": _iso_or_none(job.last_success_at),
        "pendingRetryAt": _iso_or_none(job.pending_retry.due_at) if job.pending_retry else None,
        "unsentNotices": len(job.outbox),
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
    })
    return body
