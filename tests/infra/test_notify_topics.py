"""Channels of type sns: the functions may publish only to the topics the operator names in
the stack parameter NotifyTopicArns (and to the stack's own topic)."""
from __future__ import annotations

import pytest

from .conftest import STAGES, Packaged


@pytest.mark.parametrize("stage", STAGES)
def test_named_topics_only_and_only_when_named(packaged: dict[str, Packaged], stage: str) -> None:
    template = packaged[stage].template
    parameter = template["Parameters"]["NotifyTopicArns"]
    assert parameter["Type"] == "CommaDelimitedList" and parameter["Default"] == ""
    policy = template["Resources"]["NotifyTopicsPublish"]
    assert policy["Condition"] == "HasNotifyTopics"  # nothing granted while the list is empty
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == {"Ref": "NotifyTopicArns"}
    assert {r["Ref"] for r in policy["Properties"]["Roles"]} == {"ApiHandlerRole", "DispatchRole", "RunExecutionRole"}
