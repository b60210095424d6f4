"""The Chalice entry points: the REST API (its routes in ``chalicelib.api.routes``), the
authorizer (``chalicelib.api.gateway``), the dispatcher and the worker.

The dispatcher and the worker read their event, make one engine call and report; the
logic lives in ``chalicelib``. Importing this module builds nothing: the runtime is
built on first use from the environment (``chalicelib.bootstrap``).
"""
from __future__ import annotations

from typing import Any

from chalice import Rate

from chalicelib import bootstrap
from chalicelib.adapters import tracing
from chalicelib.api import methods
from chalicelib.api.gateway import CONSOLE, JSON_BODIES, app, jwt_authorizer, logger
from chalicelib.api.routes import MODULES as ROUTES
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import parse_iso
from chalicelib.core.worker_event import WorkerEvent

__all__ = ["app", "jwt_authorizer", "dispatch", "run_execution", "logger", "CONSOLE", "ROUTES"]
"""``app`` and the three Lambda handlers Chalice deploys (``app.jwt_authorizer``,
``app.dispatch``, ``app.run_execution``); every route is registered by importing ROUTES."""

methods.refuse_other_methods(app, jwt_authorizer, JSON_BODIES)  # after every route: 405 for the rest


# ---------------------------------------------------------------------- dispatcher and worker


@app.schedule(Rate(1, unit=Rate.MINUTES), name="dispatch")
def dispatch(event: Any) -> dict[str, Any]:
    """Every minute: claim due slots and retries at the event's time, hand them to workers."""
    raw = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    runtime = bootstrap.get_runtime()
    try:
        now = parse_iso(raw["time"])
    except (KeyError, TypeError, ValueError):
        now = None  # the engine's clock
        logger.warning("event has no usable 'time'; using the wall clock", extra={"event_id": raw.get("id")})
    runtime.ensure_code_jobs()
    report = _traced_tick(runtime, now, _budget(getattr(event, "context", None)))
    runtime.metrics.flush()
    return {"now": report.now.isoformat(), "dueJobs": report.due_jobs, "claimed": len(report.claimed),
            "skipped": report.skipped, "missed": report.missed, "timedOut": report.timed_out,
            "errors": report.errors}


@app.lambda_function(name="run_execution")
def run_execution(event: Any, context: Any) -> dict[str, Any]:
    """The worker: run one claimed execution (invoked asynchronously by the dispatcher)."""
    try:
        worker_event = WorkerEvent.parse(event)
    except ValidationFailed as exc:
        logger.error("worker event refused", extra={"error": str(exc)})
        return {"status": "refused", "error": "event must be {\"jobName\": str, \"executionId\": str}"}
    worker_id = getattr(context, "aws_request_id", None) or "worker"
    runtime = bootstrap.get_runtime()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    final = _traced_run(runtime, worker_event, worker_id, remaining if callable(remaining) else None)
    runtime.metrics.flush()
    return {**worker_event.to_payload(), "status": final.status.value if final else "not-run"}


DISPATCH_MARGIN_MS = 10_000
"""Kept free of the dispatch Lambda's remaining time: the tick stops reading due work then."""


def _budget(context: Any) -> Any:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return lambda: int(remaining()) - DISPATCH_MARGIN_MS


def _traced_tick(runtime: bootstrap.Runtime, now: Any, budget: Any) -> Any:
    with tracing.subsegment("## dispatch") as segment:
        report = runtime.engine.dispatcher.tick(now, remaining_ms=budget)
        segment.annotate("tick", report.now.isoformat())
        return report


def _traced_run(runtime: bootstrap.Runtime, event: WorkerEvent, worker_id: str, remaining_ms: Any) -> Any:
    with tracing.subsegment("## run_execution") as segment:
        segment.annotate("job_name", event.job_name)
        segment.annotate("execution_id", event.execution_id)
        return runtime.engine.worker.run(event, worker_id=worker_id, remaining_ms=remaining_ms)

