"""The Chalice entry points: REST routes, the dispatcher, the worker, the authorizer.

Each function parses its input, makes one service call and shapes the answer; the
logic lives in ``chalicelib``. Importing this module builds nothing: the runtime is
built on first use from the environment (``chalicelib.bootstrap``).
"""
from __future__ import annotations

import logging
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from chalice import AuthResponse, Chalice, Rate, Response
from chalice.app import Request

from chalicelib import bootstrap
from chalicelib.adapters import run_logging, tracing
from chalicelib.api import audit, auth, console, methods
from chalicelib.api.channel_views import channel_view, parse_force, parse_owner_param
from chalicelib.api.describe import describe
from chalicelib.api.problems import PROBLEM_JSON, problem_for
from chalicelib.api.requests import (
    parse_empty_body,
    parse_idempotency_key,
    parse_json_body,
    parse_limit,
    parse_next_token,
    parse_pause_body,
    parse_preview_body,
    parse_trigger_body,
    validate_execution_id,
)
from chalicelib.api.views import (
    execution_detail_view,
    execution_view,
    handler_view,
    job_view,
    maintenance_window_view,
    replay_view,
    slots_view,
    status_view,
)
from chalicelib.core import run_log, strict_json
from chalicelib.core.channels import validate_channel_name
from chalicelib.core.cron import CronSchedule
from chalicelib.core.definitions import validate_job_name
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.maintenance import validate_window_id
from chalicelib.core.model import parse_iso
from chalicelib.core.replays import validate_replay_id
from chalicelib.core.scheduler import ApiService
from chalicelib.core.scheduler.replay_service import ReplayView
from chalicelib.core.worker_event import WorkerEvent

if TYPE_CHECKING:
    from chalicelib.core.scheduler.channel_service import Channels

app = Chalice(app_name="nightly-scheduler", configure_logs=False)  # Powertools formats the logs
logger = Logger(service="nightly-scheduler")
copy_config_to_registered_loggers(source_logger=logger, include={"chalicelib"})
run_logging.install(logging.getLogger("chalicelib"))
run_log.install()  # each run's log lines are kept with its execution: every logger's records reach the root
run_log.install(logging.getLogger("chalicelib"))  # but Powertools stops chalicelib's from propagating

BASE = "/api/v1/scheduler"
JSON_BODIES = ["application/json", "application/problem+json", "text/plain", "application/x-www-form-urlencoded"]


def _runtime() -> bootstrap.Runtime:
    return bootstrap.get_runtime()


def _service() -> ApiService:
    """The API service; getting it registers nothing (see :func:`with_code_jobs`)."""
    return _runtime().service


def _channels() -> Channels:
    """The notification channels' use case (PUT, GET, DELETE /channels)."""
    return _runtime().channels


# ---------------------------------------------------------------------- responses


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(body=strict_json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _empty(status: int) -> Response:
    return Response(body="", status_code=status, headers={})


def api(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Map domain errors to RFC 9457 problems; never let a stack trace out."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            result = problem_for(exc)
            if result.status >= 500:
                logger.exception("request failed")
            return Response(body=strict_json.dumps(result.body), status_code=result.status,
                            headers={"Content-Type": PROBLEM_JSON, **result.headers})

    return wrapper


def with_code_jobs(fn: Callable[..., Response]) -> Callable[..., Response]:
    """For a route that lists, reads or changes jobs: the code-defined jobs are registered
    first (once per process), so a fresh deploy lists, shows and accepts them."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        _runtime().ensure_code_jobs()
        return fn(*args, **kwargs)

    return wrapper


def _request() -> Request:
    """The request being served (Chalice sets it before a route function runs)."""
    request = app.current_request
    assert request is not None, "only route functions read the request"
    return request


def audited(action: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """One audit line per mutating request (see ``chalicelib.api.audit``)."""
    return audit.audited(action, _caller)


def _caller() -> Any:
    return audit.caller(_request().context)


def _job_name(value: str) -> str:
    return validate_job_name(value)


def _request_path() -> str:
    """The path as the caller sent it (API Gateway's includes the stage), for Location."""
    context = _request().context or {}
    return str(context.get("path") or f"{BASE}/jobs").rstrip("/")


def _body(required: bool = False) -> Any:
    return parse_json_body(_request().raw_body, required=required)


@app.middleware("http")
def media_type_problem(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice answers a Content-Type a route does not take with a body of its own: a problem instead."""
    return methods.media_type_problem(get_response(event), event.headers.get("content-type"))


@app.middleware("all")
def flush_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Powertools' decorators expect (event, context): Chalice flushes here instead."""
    try:
        return get_response(event)
    finally:
        runtime = bootstrap.current_runtime()
        if runtime is not None:
            runtime.metrics.flush()


# ---------------------------------------------------------------------- authorizer


@app.authorizer(ttl_seconds=0)
def jwt_authorizer(auth_request: Any) -> AuthResponse:
    """A credential a Supabase project issues (``chalicelib.api.auth``): its service_role
    API key, a Supabase Auth token of an admin, or a secret API key the scheduler holds."""
    try:
        runtime = _runtime()
    except Exception:
        logger.exception("the runtime could not be built; every request is refused until it is fixed")
        _unauthorized()
    try:
        secret = bootstrap.jwt_secret(runtime.settings, runtime.resolve_secret)
    except Exception:
        logger.exception("the JWT secret could not be read; HS256 tokens are refused until it is fixed")
        secret = ""
    settings = runtime.settings
    try:
        token = auth.bearer_token(auth_request.token)
        principal = auth.verify(token, secret=secret, admin_roles=settings.admin_roles, keys=runtime.jwks_keys(),
                                issuer=auth.issuer_for(settings.supabase_url), project_ref=settings.supabase_project_ref,
                                local_mode=settings.local_mode,
                                secret_keys=lambda: bootstrap.api_secret_keys(settings, runtime.resolve_secret))
    except auth.InvalidToken as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        _unauthorized()
    except auth.ForbiddenRole as exc:
        logger.info("credential without an allowed role", extra={"reason": str(exc)})
        return AuthResponse(routes=[], principal_id="forbidden")
    context = {"role": principal.role, "credential": principal.credential}
    if principal.key_fingerprint:
        context["keyFingerprint"] = principal.key_fingerprint
    return AuthResponse(routes=["*"], principal_id=principal.subject, context=context)


def _unauthorized() -> NoReturn:
    """401. API Gateway maps an authorizer raising 'Unauthorized' to 401; Chalice's local
    gateway (local stack and test client) needs its own exception for the same answer."""
    try:
        from chalice.local import NotAuthorizedError
    except ImportError:  # deployed: chalice.local is not packaged
        raise Exception("Unauthorized") from None  # the exact message API Gateway expects
    raise NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message":"Unauthorized"}')


# ---------------------------------------------------------------------- routes


@app.route(f"{BASE}/health", methods=["GET"])
def health() -> Response:
    """200 ``ok``; 503 ``degraded`` naming each refused setting (every other route and job
    keeps working; a bad ``CERT_CHECK_*`` value keeps the certification job from being
    registered, which a monitor must see)."""
    try:
        problems = _runtime().settings.problems
    except Exception:
        logger.exception("the runtime could not be built")
        return _json(503, {"status": "unavailable", "problems": [{"setting": None, "message": "see the logs"}]})
    if problems:
        return _json(503, {"status": "degraded",
                           "problems": [{"setting": p.field, "message": p.message} for p in problems]})
    return _json(200, {"status": "ok"})


@app.route(f"{BASE}/handlers", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_handlers() -> Response:
    handlers = _service().reads.list_handlers()
    return _json(200, {"handlers": [handler_view(h) for h in handlers]})


JOBS_PAGE = 250
"""The largest page of GET /jobs: the console lists a thousand jobs in four requests."""


@app.route(f"{BASE}/jobs", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def list_jobs() -> Response:
    params = _request().query_params
    page = _service().reads.list_jobs(limit=parse_limit(params, default=50, maximum=JOBS_PAGE), cursor=parse_next_token(params),
                                      owner=parse_owner_param(params))
    return _json(200, {"jobs": [job_view(j) for j in page.items], "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("register")
@api
@with_code_jobs
def register_job() -> Response:
    job, created = _service().jobs.register(_body(required=True), _caller())
    if created:
        return _json(201, job_view(job), {"Location": f"{_request_path()}/{job.name}"})
    return _json(200, job_view(job))


@app.route(f"{BASE}/jobs/{{jobName}}", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def get_job(jobName: str) -> Response:
    return _json(200, job_view(_service().reads.describe_job(_job_name(jobName))))


@app.route(f"{BASE}/jobs/{{jobName}}", methods=["DELETE"], authorizer=jwt_authorizer)
@audited("cancel")
@api
@with_code_jobs
def cancel_job(jobName: str) -> Response:
    _service().jobs.cancel_job(_job_name(jobName), actor=_caller())
    return _empty(204)


@app.route(f"{BASE}/jobs/{{jobName}}/trigger", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("trigger")
@api
@with_code_jobs
def trigger_job(jobName: str) -> Response:
    name = _job_name(jobName)
    payload = parse_trigger_body(_body())
    key = parse_idempotency_key(_request().headers)
    execution = _service().runs.trigger_job(name, idempotency_key=key, payload=payload, actor=_caller())
    return _json(202, execution_view(execution))


@app.route(f"{BASE}/jobs/{{jobName}}/pause", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("pause")
@api
@with_code_jobs
def pause_job(jobName: str) -> Response:
    name = _job_name(jobName)
    reason, until = parse_pause_body(_body())
    return _json(200, job_view(_service().jobs.pause_job(name, reason, actor=_caller(), until=until)))


@app.route(f"{BASE}/jobs/{{jobName}}/resume", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("resume")
@api
@with_code_jobs
def resume_job(jobName: str) -> Response:
    name = _job_name(jobName)
    parse_empty_body(_body())
    return _json(200, job_view(_service().jobs.resume_job(name, actor=_caller())))


@app.route(f"{BASE}/jobs/{{jobName}}/last-result", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def last_result(jobName: str) -> Response:
    execution = _service().reads.get_last_execution_result(_job_name(jobName))
    return _empty(204) if execution is None else _json(200, execution_view(execution))


@app.route(f"{BASE}/jobs/{{jobName}}/executions", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def list_executions(jobName: str) -> Response:
    params = _request().query_params
    page = _service().reads.list_executions(_job_name(jobName), limit=parse_limit(params, default=20),
                                            cursor=parse_next_token(params))
    return _json(200, {"executions": [execution_view(e) for e in page.items], "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs/{{jobName}}/executions/{{executionId}}", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def get_execution(jobName: str, executionId: str) -> Response:
    execution_id = validate_execution_id(executionId)
    return _json(200, execution_detail_view(_service().reads.get_execution(_job_name(jobName), execution_id)))


@app.route(f"{BASE}/jobs/{{jobName}}/replays", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("replay")
@api
@with_code_jobs
def create_replay(jobName: str) -> Response:
    name = _job_name(jobName)
    key = parse_idempotency_key(_request().headers)
    view, _ = _service().replays.create(name, _body(required=True), idempotency_key=key, actor=_caller())
    return _json(202 if view.stored else 200, replay_view(view))


@app.route(f"{BASE}/jobs/{{jobName}}/replays", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def list_replays(jobName: str) -> Response:
    params = _request().query_params
    page, job = _service().replays.list_for_job(_job_name(jobName), limit=parse_limit(params, default=20),
                                                cursor=parse_next_token(params))
    return _json(200, {"replays": [replay_view(ReplayView(r, job)) for r in page.items], "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs/{{jobName}}/replays/{{replayId}}", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def get_replay(jobName: str, replayId: str) -> Response:
    return _json(200, replay_view(_service().replays.get(_job_name(jobName), validate_replay_id(replayId))))


@app.route(f"{BASE}/jobs/{{jobName}}/replays/{{replayId}}", methods=["DELETE"], authorizer=jwt_authorizer)
@audited("cancel-replay")
@api
@with_code_jobs
def cancel_replay(jobName: str, replayId: str) -> Response:
    name, replay_id = _job_name(jobName), validate_replay_id(replayId)
    return _json(200, replay_view(_service().replays.cancel(name, replay_id, actor=_caller())))


@app.route(f"{BASE}/channels", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_channels() -> Response:
    return _json(200, {"channels": [channel_view(c) for c in _channels().all()]})


@app.route(f"{BASE}/channels/{{name}}", methods=["PUT"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("put-channel")
@api
def put_channel(name: str) -> Response:
    channel, created = _channels().put(validate_channel_name(name), _body(required=True), _caller())
    return _json(201 if created else 200, channel_view(channel))


@app.route(f"{BASE}/channels/{{name}}", methods=["GET"], authorizer=jwt_authorizer)
@api
def get_channel(name: str) -> Response:
    return _json(200, channel_view(_channels().get(validate_channel_name(name))))


@app.route(f"{BASE}/channels/{{name}}", methods=["DELETE"], authorizer=jwt_authorizer)
@audited("delete-channel")
@api
def delete_channel(name: str) -> Response:
    force = parse_force(_request().query_params)
    _channels().delete(validate_channel_name(name), force=force)
    return _empty(204)


@app.route(f"{BASE}/jobs/{{jobName}}/upcoming", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def upcoming(jobName: str) -> Response:
    count = parse_limit(_request().query_params, default=10, maximum=50, name="count")
    job, slots = _service().reads.upcoming(_job_name(jobName), count)
    schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
    return _json(200, {"jobName": job.name, "timezone": job.definition.timezone, "slots": slots_view(schedule, slots)})


@app.route(f"{BASE}/maintenance-windows", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@audited("create-maintenance-window")
@api
def create_maintenance_window() -> Response:
    service = _service()
    window = service.windows.create(_body(required=True), actor=_caller())
    return _json(201, maintenance_window_view(window, service.clock.now()),
                 {"Location": f"{_request_path()}/{window.window_id}"})


@app.route(f"{BASE}/maintenance-windows", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_maintenance_windows() -> Response:
    service = _service()
    now = service.clock.now()
    return _json(200, {"windows": [maintenance_window_view(w, now) for w in service.windows.list()]})


@app.route(f"{BASE}/maintenance-windows/{{windowId}}", methods=["DELETE"], authorizer=jwt_authorizer)
@audited("end-maintenance-window")
@api
def end_maintenance_window(windowId: str) -> Response:
    service = _service()
    window = service.windows.end(validate_window_id(windowId), actor=_caller())
    return _json(200, maintenance_window_view(window, service.clock.now()))


@app.route(f"{BASE}/schedules/preview", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@api
def preview_schedule() -> Response:
    cron, zone, count = parse_preview_body(_body(required=True))
    schedule, slots = _service().reads.preview(cron, zone, count)
    return _json(200, {"cronExpression": schedule.expression, "timezone": schedule.timezone,
                       "description": describe(schedule.expression), "slots": slots_view(schedule, slots)})


@app.route(f"{BASE}/status", methods=["GET"], authorizer=jwt_authorizer)
@api
@with_code_jobs
def status() -> Response:
    return _json(200, status_view(_service().reads.status()))


# ---------------------------------------------------------------------- console (outside the JSON API)

CONSOLE = f"{BASE}/console"


def _asset(name: str) -> Response:
    return Response(body=console.asset(name), status_code=200, headers=console.headers(name))


@app.route(CONSOLE, methods=["GET"])
def console_page() -> Response:
    if str((_request().context or {}).get("path") or "").endswith("/"):  # ".../console/"
        return Response(body="", status_code=301, headers=console.redirect_headers())
    return _asset("index.html")


@app.route(f"{CONSOLE}/assets/{{name}}", methods=["GET"])
def console_asset(name: str) -> Response:
    """The page's stylesheet and script modules, by name from an allow-list (console.ASSETS)."""
    if name not in console.ASSETS:
        return Response(body=strict_json.dumps(methods.UNKNOWN_PATH_PROBLEM), status_code=404,
                        headers={"Content-Type": PROBLEM_JSON})
    return _asset(name)


# ---------------------------------------------------------------------- other methods

methods.refuse_other_methods(app, jwt_authorizer, JSON_BODIES)


# ---------------------------------------------------------------------- dispatcher and worker


@app.schedule(Rate(1, unit=Rate.MINUTES), name="dispatch")
def dispatch(event: Any) -> dict[str, Any]:
    """Every minute: claim due slots and retries at the event's time, hand them to workers."""
    raw = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    runtime = _runtime()
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
    runtime = _runtime()
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


logging.getLogger("botocore").setLevel(logging.WARNING)  # botocore's DEBUG output would include secrets
