"""Routes of a job's replays: create, list, show, cancel."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import http
from chalicelib.api.gateway import BASE, JSON_BODIES, app, jwt_authorizer
from chalicelib.api.requests import parse_idempotency_key, parse_limit, parse_next_token
from chalicelib.api.views import replay_view
from chalicelib.core.replays import validate_replay_id
from chalicelib.core.scheduler.replay_service import ReplayView


@app.route(f"{BASE}/jobs/{{jobName}}/replays", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("replay")
@http.api
@http.with_code_jobs
def create_replay(jobName: str) -> Response:
    name = http.job_name(jobName)
    key = parse_idempotency_key(http.request().headers)
    view, _ = http.service().replays.create(name, http.body(required=True), idempotency_key=key, actor=http.caller())
    return http.json_response(202 if view.stored else 200, replay_view(view))


@app.route(f"{BASE}/jobs/{{jobName}}/replays", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def list_replays(jobName: str) -> Response:
    params = http.request().query_params
    page, job = http.service().replays.list_for_job(http.job_name(jobName), limit=parse_limit(params, default=20),
                                                    cursor=parse_next_token(params))
    return http.json_response(200, {"replays": [replay_view(ReplayView(r, job)) for r in page.items],
                                    "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs/{{jobName}}/replays/{{replayId}}", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def get_replay(jobName: str, replayId: str) -> Response:
    view = http.service().replays.get(http.job_name(jobName), validate_replay_id(replayId))
    return http.json_response(200, replay_view(view))


@app.route(f"{BASE}/jobs/{{jobName}}/replays/{{replayId}}", methods=["DELETE"], authorizer=jwt_authorizer)
@http.audited("cancel-replay")
@http.api
@http.with_code_jobs
def cancel_replay(jobName: str, replayId: str) -> Response:
    name, replay_id = http.job_name(jobName), validate_replay_id(replayId)
    return http.json_response(200, replay_view(http.service().replays.cancel(name, replay_id, actor=http.caller())))
