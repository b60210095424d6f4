"""The worker's event is one type: what the invoker sends is what the worker entry point reads."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.invoker import LambdaInvoker
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.worker_event import WorkerEvent


class RecordingLambda:
    """A Lambda client that keeps each Invoke's arguments (the worker never runs)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def invoke(self, **kwargs) -> None:
        self.calls.append(kwargs)


def test_the_event_the_invoker_sends_parses_back_to_itself():
    client = RecordingLambda()
    event = WorkerEvent("nightly-report", "20261129T020000000Z-a01")
    LambdaInvoker(client, "worker-fn").invoke(event)
    (call,) = client.calls
    assert (call["FunctionName"], call["InvocationType"]) == ("worker-fn", "Event")
    sent = json.loads(call["Payload"])
    assert sent == {"jobName": "nightly-report", "executionId": "20261129T020000000Z-a01"}  # names only
    assert WorkerEvent.parse(sent) == event


@pytest.mark.parametrize(("raw", "field"), [
    ({"nope": 1}, "executionId"),
    ({"jobName": "nightly", "executionId": 7}, "executionId"),
    ({"jobName": "Not A Name", "executionId": "x"}, "jobName"),
    ({"jobName": "nightly\n", "executionId": "x"}, "jobName"),
    (["nightly", "x"], "event"),
])
def test_an_event_that_is_not_one_is_refused_naming_the_field(raw, field):
    with pytest.raises(ValidationFailed) as refused:
        WorkerEvent.parse(raw)
    assert [e.field for e in refused.value.errors] == [field]
