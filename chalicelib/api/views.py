"""The JSON shapes of API.md: ``Job`` and ``Execution`` resources in camelCase."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.api.describe import describe
from chalicelib.core.cron import CronSchedule
from chalicelib.core.cron.notes import dst_note, local_time
from chalicelib.core.definitions import definition_to_body
from chalicelib.core.maintenance import MaintenanceWindow, status_of
from chalicelib.core.model import Actor, Execution, ExecutionError, Job, SetAside, UnreadableJob, iso
from chalicelib.core.ports import Handler
from chalicelib.core.replays import progress
from chalicelib.core.scheduler.queries import SchedulerStatus
from chalicelib.core.scheduler.replay_service import ReplayView


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
        "error": error_view(execution.error),
        "idempotencyKey": execution.idempotency_key,
        "payloadOverride": dict(execution.payload_override),
        "triggeredBy": actor_view(execution.triggered_by),
        **({"replayId": execution.replay_id} if execution.replay_id else {}),
        **({"skipReason": execution.skip_reason} if execution.skip_reason else {}),
    }


def handler_view(handler: Handler) -> dict[str, Any]:
    """A job type as ``GET /handlers`` shows it: ``payloadFields`` when it describes its payload."""
    view: dict[str, Any] = {"name": handler.name, "description": handler.description}
    if handler.payload_fields:
        view["payloadFields"] = [
            {"name": f.name, "type": f.type, "required": f.required, "description": f.description,
             **({"example": f.example} if f.example is not None else {})}
            for f in handler.payload_fields
        ]
    return view


def actor_view(actor: Actor | None) -> dict[str, str] | None:
    return None if actor is None else {"subject": actor.subject, "role": actor.role}


def error_view(error: ExecutionError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "retryable": error.retryable}


def set_aside_view(record: SetAside | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"reason": record.reason, "since": iso(record.since), "retryAt": iso(record.retry_at),
            "attempts": record.attempts}


def job_view(job: Job | UnreadableJob) -> dict[str, Any]:
    """A job resource. A set-aside job says ``dispatchable: false`` and why; a record that
    cannot be decoded shows only its name, that reason and its set-aside record."""
    if isinstance(job, UnreadableJob):
        return {"jobName": job.name, "dispatchable": False,
                "setAside": set_aside_view(job.set_aside) or {"reason": f"its stored record cannot be decoded ({job.reason})",
                                                               "since": None, "retryAt": None, "attempts": 0},
                "unreadable": job.reason}
    body = definition_to_body(job.definition)
    body.update({
        "state": job.state.value,
        "pauseReason": job.pause_reason,
        "nextRunAt": _iso_or_none(job.next_run_at) if job.state.value == "active" else None,
        "consecutiveFailures": job.consecutive_failures,
        "alertState": job.alert_state.value,
        "scheduleDescription": describe(job.definition.cron_expression),
        "lastExecution": execution_view(job.last_execution) if job.last_execution else None,
        "recentRuns": [{"executionId": r.execution_id, "status": r.status.value, "scheduledFor": iso(r.scheduled_for)}
                       for r in job.recent_runs],
        "lastSuccessAt": _iso_or_none(job.last_success_at),
        "pendingRetryAt": _iso_or_none(job.pending_retry.due_at) if job.pending_retry else None,
        "unsentNotices": len(job.outbox),
        "createdBy": actor_view(job.created_by),
        "updatedBy": actor_view(job.updated_by),
        "pausedBy": actor_view(job.paused_by),
        "pausedUntil": _iso_or_none(job.paused_until),
        **({"heldSlot": {"scheduledFor": iso(job.held_slot.slot), "windowId": job.held_slot.window_id}}
           if job.held_slot else {}),
        "dispatchable": job.set_aside is None,
        "setAside": set_aside_view(job.set_aside),
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
    })
    return body


def execution_detail_view(execution: Execution) -> dict[str, Any]:
    """One execution with the log lines its run wrote (``logsTruncated``: older ones dropped)."""
    body = execution_view(execution)
    body["logs"] = [{"at": iso(line.at), "level": line.level, "message": line.message} for line in execution.logs]
    body["logsTruncated"] = execution.logs_dropped > 0
    return body


def slots_view(schedule: CronSchedule, slots: list[datetime]) -> list[dict[str, Any]]:
    """Each slot's UTC instant, its wall time in the job's zone, and a DST note when one applies."""
    out = []
    for slot in slots:
        entry: dict[str, Any] = {"at": iso(slot), "localTime": local_time(schedule, slot).isoformat(timespec="minutes")}
        note = dst_note(schedule, slot)
        if note:
            entry["dstNote"] = note
        out.append(entry)
    return out


def status_view(status: SchedulerStatus) -> dict[str, Any]:
    stale = status.last_tick is None or status.now - status.last_tick > STALE_TICK
    return {
        "jobs": {"byState": status.by_state, "byAlertState": status.by_alert, "setAside": status.set_aside},
        "overdue": status.overdue,
        "lastTickAt": _iso_or_none(status.last_tick),
        "tickStale": stale,
        "at": iso(status.now),
    }


STALE_TICK = timedelta(minutes=3)
"""A tick older than this is shown as a problem: the dispatcher ticks every minute."""


def replay_view(view: ReplayView) -> dict[str, Any]:
    """A replay: its request, its per-slot progress (``state`` pending | running | done |
    cancelled, ``outcome`` and ``executionId``: the latest attempt's) and the slots it
    leaves out and why. A dry run's plan has ``replayId`` null and status ``planned``."""
    replay, job = view.replay, view.job
    schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone) if job else None
    cursor = job.replay if job is not None and job.replay and job.replay.replay_id == replay.replay_id else None
    status, detail = progress(replay, job) if view.stored else ("planned", "dry run: nothing was stored or started")
    slots = []
    for slot in replay.slots:
        execution_id = slot.execution_id
        if cursor is not None and cursor.slot == slot.scheduled_for and slot.state.value == "running":
            execution_id = cursor.execution_id
        slots.append({**_when(schedule, slot.scheduled_for), "state": slot.state.value,
                      "outcome": slot.outcome.value if slot.outcome else None, "executionId": execution_id})
    return {
        "replayId": replay.replay_id if view.stored else None,
        "jobName": replay.job_name,
        "from": iso(replay.window_from),
        "to": iso(replay.window_to),
        "only": replay.only.value,
        "maxRuns": replay.max_runs,
        "status": status,
        "statusDetail": detail,
        "slots": slots,
        "leftOut": [{**_when(schedule, s.scheduled_for), "reason": s.reason, "detail": s.detail}
                    for s in replay.left_out],
        "createdAt": iso(replay.created_at),
        "updatedAt": iso(replay.updated_at),
        "createdBy": actor_view(replay.created_by),
    }


def _when(schedule: CronSchedule | None, slot: datetime) -> dict[str, Any]:
    if schedule is None:  # the job is gone: its zone with it
        return {"at": iso(slot), "localTime": slot.isoformat(timespec="minutes")}
    [entry] = slots_view(schedule, [slot])
    return entry


def maintenance_window_view(window: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    """A maintenance window as ``/maintenance-windows`` shows it."""
    scope: dict[str, Any] = ({"all": True} if window.all_jobs else {"owner": window.owner} if window.owner is not None
                             else {"jobs": list(window.jobs)})
    return {
        "id": window.window_id,
        "from": iso(window.starts_at),
        "to": iso(window.ends_at),
        "reason": window.reason,
        **scope,
        "runMissed": window.run_missed,
        "status": status_of(window, now),
        "createdAt": iso(window.created_at),
        "createdBy": actor_view(window.created_by),
        "endedBy": actor_view(window.ended_by),
    }
