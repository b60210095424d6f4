"""Routes about the scheduler itself: health, handlers, schedule preview, status."""
from __future__ import annotations

from chalice import Response

from chalicelib import bootstrap
from chalicelib.api import http
from chalicelib.api.describe import describe
from chalicelib.api.gateway import BASE, JSON_BODIES, app, jwt_authorizer, logger
from chalicelib.api.requests import parse_preview_body
from chalicelib.api.views import handler_view, slots_view, status_view


@app.route(f"{BASE}/health", methods=["GET"])
def health() -> Response:
    """200 ``ok``; 503 ``degraded`` naming each refused setting (every other route and job
    keeps working; a bad ``CERT_CHECK_*`` value keeps the certification job from being
    registered, which a monitor must see)."""
    try:
        problems = bootstrap.get_runtime().settings.problems
    except Exception:  # noqa: BLE001 - any failure to build the runtime is this 503
        logger.exception("the runtime could not be built")
        return http.json_response(503, {"status": "unavailable",
                                        "problems": [{"setting": None, "message": "see the logs"}]})
    if problems:
        return http.json_response(503, {"status": "degraded",
                                        "problems": [{"setting": p.field, "message": p.message} for p in problems]})
    return http.json_response(200, {"status": "ok"})


@app.route(f"{BASE}/handlers", methods=["GET"], authorizer=jwt_authorizer)
@http.api
def list_handlers() -> Response:
    handlers = http.service().reads.list_handlers()
    return http.json_response(200, {"handlers": [handler_view(h) for h in handlers]})


@app.route(f"{BASE}/schedules/preview", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.api
def preview_schedule() -> Response:
    cron, zone, count = parse_preview_body(http.body(required=True))
    schedule, slots = http.service().reads.preview(cron, zone, count)
    return http.json_response(200, {"cronExpression": schedule.expression, "timezone": schedule.timezone,
                                    "description": describe(schedule.expression),
                                    "slots": slots_view(schedule, slots)})


@app.route(f"{BASE}/status", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def status() -> Response:
    return http.json_response(200, status_view(http.service().reads.status()))
