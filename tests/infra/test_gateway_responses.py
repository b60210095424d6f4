"""What API Gateway answers by itself in the packaged stack: a path the API does not have is
the API's own 404 problem, and nothing API Gateway writes (answers, access log) carries a
request header back: its default answer to an unknown path echoes the caller's
``Authorization`` header in the body and in ``$context.error.message``."""
from __future__ import annotations

import json

import pytest

from chalicelib.api.methods import UNKNOWN_PATH_PROBLEM

from .conftest import STAGES, Packaged

pytestmark = pytest.mark.timeout(900)  # the first test to need the packaged templates pays for `chalice package`


def rest_api(p: Packaged) -> dict:
    return p.resource("RestAPI")["Properties"]


@pytest.mark.parametrize("stage", STAGES)
def test_an_unknown_path_is_the_apis_404_problem(packaged: dict[str, Packaged], stage: str) -> None:
    response = rest_api(packaged[stage]).get("GatewayResponses", {}).get("MISSING_AUTHENTICATION_TOKEN")
    assert response is not None, "API Gateway's default: 403 with the caller's Authorization header echoed"
    assert str(response["StatusCode"]) == "404"
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
    assert list(response["ResponseTemplates"]) == ["application/json"]
    assert json.loads(response["ResponseTemplates"]["application/json"]) == UNKNOWN_PATH_PROBLEM


@pytest.mark.parametrize("stage", STAGES)
def test_no_gateway_response_or_access_log_line_echoes_the_request(packaged: dict[str, Packaged], stage: str) -> None:
    api = rest_api(packaged[stage])
    for name, response in api.get("GatewayResponses", {}).items():
        for template in response.get("ResponseTemplates", {}).values():
            assert "$" not in template, f"{name}: a template must be static, not ${{...}} of the request"
        for where in response.get("ResponseParameters", {}).values():
            assert not [v for v in where.values() if not (v.startswith("'") and v.endswith("'"))], \
                f"{name}: response parameters must be static strings, not mapped from the request"
    log_format = api["AccessLogSetting"]["Format"]
    assert "$context.error.message" not in log_format  # holds "Authorization=<the caller's header>" on that 403
    assert json.loads(log_format)["error"] == "$context.error.responseType"
