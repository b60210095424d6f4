"""The API's edges: a path no route serves, a header outside its alphabet, the console's
address with a trailing slash. Through chalice.test.Client and over HTTP on the local server."""
from __future__ import annotations

import http.client
import json
import threading

import pytest

from chalicelib.api.methods import UNKNOWN_PATH_PROBLEM
from tests.app.test_api import problem_fields

JOB = {"jobName": "every-minute", "cronExpression": "* * * * *", "handler": "ok"}
UNKNOWN = ["/api/v1/scheduler/nothing-here", "/api/v1/scheduler/jobs/a/b/c/d", "/", "/favicon.ico",
           "/api/v1/scheduler/console/console/app.js"]


@pytest.fixture
def local_server(api):
    """The API on Chalice's local server, as `make run` serves it (same runtime as ``api``)."""
    import app as chalice_app
    from devstack.api_server import create_api_server
    from devstack.net import free_port

    port = free_port()
    server = create_api_server(chalice_app.app, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()


def _over_http(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["HEAD", "TRACE", "FOO", "get"])
def test_a_method_the_api_has_no_route_for_is_a_405_problem_over_http(api, local_server, method):
    status, headers, body = _over_http(local_server, method, "/api/v1/scheduler/health", {})
    assert status == 405 and headers["Content-Type"] == "application/problem+json"
    assert headers["Allow"] == "GET"  # the path's own methods
    if method == "HEAD":
        assert body == b""  # never a body to HEAD
    else:
        assert json.loads(body)["status"] == 405 and method.encode() in body
    status, headers, _ = _over_http(local_server, method, "/api/v1/scheduler/jobs", {})
    assert status == 405 and headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("with_token", [True, False])
def test_an_unknown_path_is_a_404_problem_that_echoes_no_header(api, path, with_token):
    headers = dict(api.headers) if with_token else {}
    response = api.client.http.request("GET", path, headers=headers)
    assert response.status_code == 404, response.body
    response.json = json.loads(response.body)
    problem_fields(response)
    assert response.json == UNKNOWN_PATH_PROBLEM
    assert api.headers["Authorization"].split()[1] not in response.body.decode()


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS"])
def test_an_unknown_path_over_http_is_the_same_404_problem(api, local_server, method):
    bearer = api.headers["Authorization"]
    status, headers, body = _over_http(local_server, method, "/api/v1/scheduler/no/such/thing",
                                       {"Authorization": bearer, "X-Secret-Looking": "s3cr3t-value"})
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body) == UNKNOWN_PATH_PROBLEM
    assert bearer.split()[1].encode() not in body and b"s3cr3t-value" not in body


def test_known_paths_and_the_405_answers_are_untouched_by_the_404(api, local_server):
    assert api.call("POST", "/jobs", JOB).status_code == 201
    assert api.call("GET", "/jobs/every-minute").status_code == 200
    assert api.call("GET", "/jobs/nobody").json["type"].endswith("/job-not-found")
    refused = api.call("PUT", "/jobs/every-minute/trigger")
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
    assert api.client.http.get("/api/v1/scheduler/health").status_code == 200
    assert api.call("GET", "/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
    status, headers, _ = _over_http(local_server, "PUT", "/api/v1/scheduler/jobs", dict(api.headers))
    assert status == 405 and headers["Allow"] == "GET, POST"
    status, _, body = _over_http(local_server, "GET", "/api/v1/scheduler/jobs/every-minute", dict(api.headers))
    assert status == 200 and json.loads(body)["jobName"] == "every-minute"


@pytest.mark.parametrize("key", ["clé-1", "ключ", "k\u00a0ey", "emoji-\U0001f600", "tab\there"])
def test_an_idempotency_key_outside_printable_ascii_is_a_400_naming_the_header(api, key):
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", headers={"Idempotency-Key": key})
    assert response.status_code == 400, response.json
    assert problem_fields(response) == {"Idempotency-Key"}
    assert "ASCII" in response.json["errors"][0]["message"]
    assert api.call("GET", "/jobs/every-minute/last-result").status_code == 204  # nothing ran


def test_an_idempotency_key_of_printable_ascii_is_accepted(api):
    api.call("POST", "/jobs", JOB)
    key = "rerun-2026-11-29_~!#$%&'*+.^`|"
    first = api.call("POST", "/jobs/every-minute/trigger", headers={"Idempotency-Key": key})
    again = api.call("POST", "/jobs/every-minute/trigger", headers={"Idempotency-Key": key})
    assert first.status_code == 202 and again.json["executionId"] == first.json["executionId"]


def test_the_console_with_a_trailing_slash_redirects_to_the_console(api, local_server):
    response = api.client.http.get("/api/v1/scheduler/console/")
    assert response.status_code == 301 and response.headers["Location"] == "../console"
    assert api.client.http.get("/api/v1/scheduler/console").status_code == 200
    status, headers, _ = _over_http(local_server, "GET", "/api/v1/scheduler/console/", {})
    assert status == 301 and headers["Location"] == "../console"


def _over_http_with_body(port: int, method: str, path: str, headers: dict[str, str],
                         body: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/jobs", "/jobs/every-minute/trigger", "/schedules/preview"])
@pytest.mark.parametrize("content_type, said", [("application/xml", "is application/xml"), ("", "is empty"),
                                                ("multipart/form-data; boundary=x", "is multipart/form-data"),
                                                ("<script>", "is not a media type")])
def test_a_body_of_a_media_type_the_api_does_not_take_is_a_415_problem(api, local_server, path, content_type, said):
    api.call("POST", "/jobs", JOB)
    headers = {**api.headers, "Content-Type": content_type}
    response = api.call("POST", path, raw=b"<a/>", headers=headers)
    assert response.status_code == 415 and response.headers["Content-Type"] == "application/problem+json"
    assert response.json == {"type": "https://nightly-scheduler.dev/problems/unsupported-media-type",
                             "title": "Unsupported media type.", "status": 415,
                             "detail": f"The Content-Type header {said}; send the body as application/json."}
    status, answered, body = _over_http_with_body(local_server, "POST", "/api/v1/scheduler" + path, headers, b"<a/>")
    assert status == 415 and answered["Content-Type"] == "application/problem+json"
    assert json.loads(body) == response.json
