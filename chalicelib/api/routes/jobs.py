"""Routes of jobs and their runs: register, list, show, cancel, trigger, pause, resume,
the last result, executions, upcoming slots."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import http
from chalicelib.api.channel_views import parse_owner_param
from chalicelib.api.gateway import BASE, JSON_BODIES, app, jwt_authorizer
from chalicelib.api.requests import (
    parse_empty_body,
    parse_idempotency_key,
    parse_limit,
    parse_next_token,
    parse_pause_body,
    parse_trigger_body,
    validate_execution_id,
)
from chalicelib.api.views import execution_detail_view, execution_view, job_view, slots_view
from chalicelib.core.cron import CronSchedule

JOBS_PAGE = 250
"""The largest page of GET /jobs: the console lists a thousand jobs in four requests."""


@app.route(f"{BASE}/jobs", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def list_jobs() -> Response:
    params = http.request().query_params
    page = http.service().reads.list_jobs(limit=parse_limit(params, default=50, maximum=JOBS_PAGE),
                                          cursor=parse_next_token(params), owner=parse_owner_param(params))
    return http.json_response(200, {"jobs": [job_view(j) for j in page.items], "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("register")
@http.api
@http.with_code_jobs
def register_job() -> Response:
    job, created = http.service().jobs.register(http.body(required=True), http.caller())
    if created:
        return http.json_response(201, job_view(job), {"Location": f"{http.request_path('jobs')}/{job.name}"})
    return http.json_response(200, job_view(job))


@app.route(f"{BASE}/jobs/{{jobName}}", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def get_job(jobName: str) -> Response:
    return http.json_response(200, job_view(http.service().reads.describe_job(http.job_name(jobName))))


@app.route(f"{BASE}/jobs/{{jobName}}", methods=["DELETE"], authorizer=jwt_authorizer)
@http.audited("cancel")
@http.api
@http.with_code_jobs
def cancel_job(jobName: str) -> Response:
    http.service().jobs.cancel_job(http.job_name(jobName), actor=http.caller())
    return http.empty(204)


@app.route(f"{BASE}/jobs/{{jobName}}/trigger", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("trigger")
@http.api
@http.with_code_jobs
def trigger_job(jobName: str) -> Response:
    name = http.job_name(jobName)
    payload = parse_trigger_body(http.body())
    key = parse_idempotency_key(http.request().headers)
    execution = http.service().runs.trigger_job(name, idempotency_key=key, payload=payload, actor=http.caller())
    return http.json_response(202, execution_view(execution))


@app.route(f"{BASE}/jobs/{{jobName}}/pause", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("pause")
@http.api
@http.with_code_jobs
def pause_job(jobName: str) -> Response:
    name = http.job_name(jobName)
    reason, until = parse_pause_body(http.body())
    return http.json_response(200, job_view(http.service().jobs.pause_job(name, reason, actor=http.caller(),
                                                                          until=until)))


@app.route(f"{BASE}/jobs/{{jobName}}/resume", methods=["POST"], authorizer=jwt_authorizer, content_types=JSON_BODIES)
@http.audited("resume")
@http.api
@http.with_code_jobs
def resume_job(jobName: str) -> Response:
    name = http.job_name(jobName)
    parse_empty_body(http.body())
    return http.json_response(200, job_view(http.service().jobs.resume_job(name, actor=http.caller())))


@app.route(f"{BASE}/jobs/{{jobName}}/last-result", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def last_result(jobName: str) -> Response:
    execution = http.service().reads.get_last_execution_result(http.job_name(jobName))
    return http.empty(204) if execution is None else http.json_response(200, execution_view(execution))


@app.route(f"{BASE}/jobs/{{jobName}}/executions", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def list_executions(jobName: str) -> Response:
    params = http.request().query_params
    page = http.service().reads.list_executions(http.job_name(jobName), limit=parse_limit(params, default=20),
                                                cursor=parse_next_token(params))
    return http.json_response(200, {"executions": [execution_view(e) for e in page.items],
                                    "nextToken": page.next_cursor})


@app.route(f"{BASE}/jobs/{{jobName}}/executions/{{executionId}}", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def get_execution(jobName: str, executionId: str) -> Response:
    execution_id = validate_execution_id(executionId)
    execution = http.service().reads.get_execution(http.job_name(jobName), execution_id)
    return http.json_response(200, execution_detail_view(execution))


@app.route(f"{BASE}/jobs/{{jobName}}/upcoming", methods=["GET"], authorizer=jwt_authorizer)
@http.api
@http.with_code_jobs
def upcoming(jobName: str) -> Response:
    count = parse_limit(http.request().query_params, default=10, maximum=50, name="count")
    job, slots = http.service().reads.upcoming(http.job_name(jobName), count)
    schedule = CronSchedule.parse(job.definition.cron_expression, job.definition.timezone)
    return http.json_response(200, {"jobName": job.name, "timezone": job.definition.timezone,
                                    "slots": slots_view(schedule, slots)})
