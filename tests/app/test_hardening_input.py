"""Input that once broke the API (issue 20, items 4-6), through chalice.test.Client.

4. Numbers JSON cannot carry, strings Python cannot encode, nesting the store cannot hold.
5. A trailing newline slipping through ``$``.
6. ``force`` and ``dryRun`` of the certification check are per-run options.
"""
from __future__ import annotations

import json
import math

import pytest

from chalicelib.core.errors import ValidationFailed
from tests.app.test_api import JOB, problem_fields

CERT = {"jobName": "cert-copy", "cronExpression": "0 2 * * *", "handler": "certification-expiry-check"}


def strict(body: str | bytes) -> object:
    """What a browser's JSON.parse accepts: no NaN, no Infinity."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"the API answered {constant}, which is not JSON")

    return json.loads(body, parse_constant=refuse)


def raw_job(payload: str, **fields: str) -> bytes:
    extra = "".join(f', "{k}": {v}' for k, v in fields.items())
    return ('{"jobName": "odd", "cronExpression": "* * * * *", "handler": "ok", "payload": ' + payload + extra
            + "}").encode()


def nested(levels: int) -> dict:
    """An object ``levels`` deep: ``{}`` is one level."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# ------------------------------------------------------------------ 4. numbers JSON cannot carry


@pytest.mark.parametrize("payload, field", [
    ('{"ratio": NaN}', "payload.ratio"),
    ('{"ratio": Infinity}', "payload.ratio"),
    ('{"list": [1, -Infinity]}', "payload.list[1]"),
    ('{"big": 1e999}', "payload.big"),
    ('{"deep": {"er": -1e400}}', "payload.deep.er"),
    ('{"huge": 1' + "0" * 400 + "}", "payload.huge"),
    ('{"digits": ' + "9" * 5000 + "}", "payload.digits"),  # int() refuses > 4300 digits with a ValueError
])
def test_a_number_json_cannot_carry_is_a_400_naming_the_field(api, payload, field):
    response = api.call("POST", "/jobs", raw=raw_job(payload))
    assert response.status_code == 400, response.body
    assert field in problem_fields(response)
    assert api.call("GET", "/jobs/odd").status_code == 404


def test_a_number_json_cannot_carry_in_a_trigger_payload_is_a_400(api):
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", raw=b'{"payload": {"x": NaN}}')
    assert response.status_code == 400 and "payload.x" in problem_fields(response)
    assert api.call("GET", "/jobs/every-minute/last-result").status_code == 204


@pytest.mark.parametrize("payload, field", [
    (r'{"note": "a\ud800b"}', "payload.note"),
    (r'{"list": ["ok", "\udfff"]}', "payload.list[1]"),
    (r'{"k\udc00": 1}', r"payload.k\udc00"),
])
def test_a_lone_surrogate_in_a_payload_value_or_key_is_a_400_naming_the_field(api, payload, field):
    response = api.call("POST", "/jobs", raw=raw_job(payload))
    assert response.status_code == 400, response.body
    assert field in problem_fields(response)
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", raw=('{"payload": ' + payload + "}").encode())
    assert response.status_code == 400, response.body
    assert field in problem_fields(response)


def test_a_lone_surrogate_elsewhere_in_a_body_is_a_400(api):
    response = api.call("POST", "/jobs", raw=raw_job("{}", description=r'"half \ud83d a smile"'))
    assert response.status_code == 400 and "description" in problem_fields(response)
    whole = api.call("POST", "/jobs", raw=raw_job(r'{"smile": "\ud83d\ude00"}', description=r'"\ud83d\ude00"'))
    assert whole.status_code == 201  # a proper pair is one character


def test_the_python_api_refuses_the_same_payloads(api):
    service = api.runtime.service
    for payload, field in [({"x": math.nan}, "payload.x"), ({"y": [math.inf]}, "payload.y[0]"),
                           ({"z": "\ud800"}, "payload.z"), (nested(33), "payload")]:
        with pytest.raises(ValidationFailed) as caught:
            service.register_job("py-odd", "* * * * *", "ok", payload=payload)
        assert field in {e.field for e in caught.value.errors}


def nested_text(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


@pytest.mark.parametrize("levels", [33, 960])
def test_a_payload_nested_deeper_than_32_levels_is_a_400_at_registration_and_trigger(api, levels):
    # Where Python's own parser gives up first (960 under pytest's stack), the body is named.
    named = {"payload"} if levels < 100 else {"payload", "body"}
    response = api.call("POST", "/jobs", raw=raw_job(nested_text(levels)))
    assert response.status_code == 400 and problem_fields(response) & named
    assert "nested" in response.json["errors"][0]["message"]
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", raw=('{"payload": ' + nested_text(levels) + "}").encode())
    assert response.status_code == 400 and problem_fields(response) & named


def test_a_payload_32_levels_deep_is_accepted_and_runs(api):
    assert api.call("POST", "/jobs", {**JOB, "payload": nested(32)}).status_code == 201
    assert api.call("POST", "/jobs/every-minute/trigger", {"payload": {"b": nested(31)}}).status_code == 202
    assert api.call("GET", "/jobs/every-minute/last-result").json["status"] == "succeeded"


def test_a_result_with_nan_infinity_surrogates_and_depth_is_stored_as_json_and_the_api_stays_json(api):
    def odd(ctx):
        return {"nan": math.nan, "inf": math.inf, "neg": [-math.inf], "text": "a\ud800b", "k\udc00": 1,
                "deep": nested(100)}

    api.registry.add("odd", odd)
    api.call("POST", "/jobs", {**JOB, "jobName": "odd-result", "handler": "odd"})
    assert api.call("POST", "/jobs/odd-result/trigger").status_code == 202

    last = api.call("GET", "/jobs/odd-result/last-result")
    result = strict(last.body)["result"]  # type: ignore[index]
    assert last.json["status"] == "succeeded"
    assert result["nan"] == {"$unrepresentable": "NaN"}
    assert result["inf"] == {"$unrepresentable": "Infinity"}
    assert result["neg"] == [{"$unrepresentable": "-Infinity"}]
    assert result["text"] == "a\ufffdb" and result["k\ufffd"] == 1
    assert '"$truncated"' in json.dumps(result["deep"])
    for path in ("/jobs", "/jobs/odd-result", "/jobs/odd-result/executions", "/status"):
        strict(api.call("GET", path).body)
    assert b"\\ud" not in last.body.lower()  # no lone surrogate left, escaped or not


def test_a_stored_result_from_before_the_fix_is_answered_as_json(api):
    api.call("POST", "/jobs", JOB)
    execution_id = api.call("POST", "/jobs/every-minute/trigger").json["executionId"]
    # A result written by a worker before results were made strict JSON.
    api.runtime.store._executions["every-minute"][execution_id]["result"] = {"x": math.inf}
    response = api.call("GET", f"/jobs/every-minute/executions/{execution_id}")
    assert response.status_code == 200
    assert strict(response.body)["result"] == {"x": {"$unrepresentable": "Infinity"}}  # type: ignore[index]


# ------------------------------------------------------------------ 5. a trailing newline


HTTP = {"jobName": "hook", "cronExpression": "0 3 * * *", "handler": "http-request"}


@pytest.mark.parametrize("body, field", [
    ({**JOB, "jobName": "every-minute\n"}, "jobName"),
    ({**JOB, "jobName": "certification-expiry-check\n"}, "jobName"),
    ({**JOB, "cronExpression": "* * * * *\n"}, "cronExpression"),
    ({**JOB, "cronExpression": "*/5\n* * * *"}, "cronExpression"),
    ({**JOB, "timezone": "Europe/Oslo\n"}, "timezone"),
    ({**JOB, "handler": "ok\n"}, "handler"),
    ({**HTTP, "payload": {"url": "http://127.0.0.1:9/x", "headers": {"Host\n": "a"}}}, "payload.headers.Host\n"),
    ({**HTTP, "payload": {"url": "http://127.0.0.1:9/x", "headers": {"X-Ok": "v\n"}}}, "payload.headers.X-Ok"),
    ({**HTTP, "payload": {"url": "http://127.0.0.1:9/x\n"}}, "payload.url"),
    ({**HTTP, "payload": {"url": "http://127.0.0.1:9/x", "headers": {"X-Token": {"secretRef": "jobs/edge\n"}}}},
     "payload.headers.X-Token.secretRef"),
])
def test_a_trailing_newline_in_a_validated_field_is_a_400_naming_it(api, body, field):
    response = api.call("POST", "/jobs", body)
    assert response.status_code == 400, response.body
    assert field in problem_fields(response)
    names = [j["jobName"] for j in api.call("GET", "/jobs").json["jobs"]]
    assert names == ["certification-expiry-check"]


@pytest.mark.parametrize("body, field", [
    ({"cronExpression": "0 2 * * *\n"}, "cronExpression"),
    ({"cronExpression": "0 2 * * *", "timezone": "UTC\n"}, "timezone"),
])
def test_a_trailing_newline_in_a_preview_is_a_400(api, body, field):
    response = api.call("POST", "/schedules/preview", body)
    assert response.status_code == 400 and field in problem_fields(response)


def test_a_trailing_newline_in_the_idempotency_key_is_a_400(api):
    api.call("POST", "/jobs", JOB)
    response = api.call("POST", "/jobs/every-minute/trigger", headers={"Idempotency-Key": "k-1\n"})
    assert response.status_code == 400 and "Idempotency-Key" in problem_fields(response)
    assert api.call("POST", "/jobs/every-minute/trigger", headers={"Idempotency-Key": " k-1 "}).status_code == 202


@pytest.mark.parametrize("path", [
    "/jobs/certification-expiry-check%0A",
    "/jobs/certification-expiry-check%0A/trigger",
    "/jobs/certification-expiry-check%0A/last-result",
    "/jobs/certification-expiry-check/executions/20261129T010000000Z-a01%0A",
])
def test_a_trailing_newline_in_a_path_parameter_is_a_problem_not_a_500(api, path):
    method = "POST" if path.endswith("trigger") else "GET"
    response = api.call(method, path)
    assert response.status_code in (400, 404), response.body
    assert problem_fields(response) <= {"jobName", "executionId"}


# ------------------------------------------------------------------ 6. per-run options


@pytest.mark.parametrize("option", ["force", "dryRun"])
def test_a_per_run_option_in_a_stored_definition_is_a_400_that_says_so(api, option):
    response = api.call("POST", "/jobs", {**CERT, "payload": {option: True}})
    assert response.status_code == 400
    assert problem_fields(response) == {f"payload.{option}"}
    message = response.json["errors"][0]["message"]
    assert "per-run option" in message and "trigger" in message
    assert api.call("GET", "/jobs/cert-copy").status_code == 404


def test_the_python_api_refuses_a_stored_force_too(api):
    with pytest.raises(ValidationFailed) as caught:
        api.runtime.service.register_job("cert-copy", "0 2 * * *", "certification-expiry-check",
                                         payload={"force": True})
    assert [e.field for e in caught.value.errors] == ["payload.force"]


@pytest.mark.parametrize("option", ["force", "dryRun"])
def test_a_per_run_option_on_a_trigger_is_accepted(api, option):
    assert api.call("POST", "/jobs", CERT).status_code == 201
    response = api.call("POST", "/jobs/cert-copy/trigger", {"payload": {option: True}})
    assert response.status_code == 202
    assert response.json["payloadOverride"] == {option: True}


# ------------------------------------------------------------------ review of issues 16 and 20 (F3, F4, F13)


@pytest.mark.parametrize("handler, payload, field", [
    ("http-request", {"url": "http://127.0.0.1:9/x", "body": {"password": ["hunter2"]}}, "payload.body.password"),
    ("http-request", {"url": "http://127.0.0.1:9/x", "body": {"password": {"value": "hunter2"}}},
     "payload.body.password"),
    ("http-request", {"url": "http://127.0.0.1:9/x", "body": {"note": "Bearer eyJabc.def.ghi"}}, "payload.body.note"),
    ("http-request", {"url": "http://127.0.0.1:9/x", "body": {"note": "sb_secret_abcdef"}}, "payload.body.note"),
    ("edge-function", {"function": "echo", "body": {"note": "sb_secret_abcdef"}}, "payload.body.note"),
    ("edge-function", {"function": "echo", "headers": {"X-Forwarded-Host": "evil.supabase.co"}},
     "payload.headers.X-Forwarded-Host"),
    ("edge-function", {"function": "echo", "headers": {"X-HTTP-Method-Override": "DELETE"}},
     "payload.headers.X-HTTP-Method-Override"),
    ("database-function", {"function": "mentor_counts", "args": {"password": ["x"]}}, "payload.args.password"),
])
def test_a_literal_secret_a_credential_in_text_or_a_routing_header_is_a_400_naming_the_field(
        api, handler, payload, field):
    response = api.call("POST", "/jobs", {"jobName": "leaky", "cronExpression": "0 3 1 1 *", "handler": handler,
                                          "payload": payload})
    assert response.status_code == 400, response.body
    assert field in problem_fields(response)
    assert "hunter2" not in response.body.decode() and "sb_secret_abcdef" not in response.body.decode()


# ------------------------------------------------------------------ F9: a member named twice


@pytest.mark.parametrize("raw, field", [
    ('{"jobName": "odd", "jobName": "certification-expiry-check", "cronExpression": "0 3 * * *", "handler": "ok"}',
     "jobName"),
    ('{"jobName": "odd", "cronExpression": "0 3 * * *", "handler": "ok", "payload": {"a": 1, "a": 2}}', "payload.a"),
    ('{"jobName": "odd", "cronExpression": "0 3 * * *", "handler": "ok", "payload": {"l": [{"b": 1, "b": 1}]}}',
     "payload.l[0].b"),
])
def test_a_member_named_twice_is_a_400_naming_it(api, raw, field):
    response = api.call("POST", "/jobs", raw=raw.encode())
    assert response.status_code == 400, response.body
    assert problem_fields(response) == {field}
    assert "more than once" in response.json["errors"][0]["message"]
    assert api.call("GET", "/jobs/odd").status_code == 404


def test_a_member_named_twice_in_a_trigger_body_is_a_400(api):
    assert api.call("POST", "/jobs", JOB).status_code == 201
    response = api.call("POST", f"/jobs/{JOB['jobName']}/trigger", raw=b'{"payload": {}, "payload": {"x": 1}}')
    assert response.status_code == 400 and problem_fields(response) == {"payload"}
