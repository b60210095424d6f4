"""API Gateway's stage throttling: the outer bound on every caller together, tighter on
manual triggers than on the rest (each caller's own budget is SCHEDULER_TRIGGER_BUDGET_PER_MINUTE)."""
from __future__ import annotations

import pytest

from .conftest import STAGES, Packaged

pytestmark = pytest.mark.timeout(900)

TRIGGER_ROUTE = "/api/v1/scheduler/jobs/{jobName}/trigger"


def encoded(path: str) -> str:
    """A MethodSetting's ResourcePath: each '/' of the route as '~1', after a leading '/'."""
    return "/" + path.replace("/", "~1")


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_is_throttled_and_manual_triggers_more_tightly(packaged: dict[str, Packaged], stage: str) -> None:
    import app as chalice_app

    assert TRIGGER_ROUTE in chalice_app.app.routes  # the setting names a route that exists
    settings = {(s["ResourcePath"], s["HttpMethod"]): s
                for s in packaged[stage].resource("RestAPI")["Properties"]["MethodSettings"]}
    stage_wide = settings[("/*", "*")]
    trigger = settings[(encoded(TRIGGER_ROUTE), "POST")]
    for setting in (stage_wide, trigger):
        assert 0 < setting["ThrottlingRateLimit"] <= setting["ThrottlingBurstLimit"]
    assert trigger["ThrottlingRateLimit"] < stage_wide["ThrottlingRateLimit"]
    assert trigger["ThrottlingBurstLimit"] < stage_wide["ThrottlingBurstLimit"]
