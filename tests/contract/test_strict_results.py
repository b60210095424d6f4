"""A handler's result reaches every store as strict JSON (issue 20, item 4).

NaN, Infinity, lone surrogates and nesting past 32 levels in what a handler returns are
made JSON at the point where results are bounded, so neither store, nor the API reading
them back, meets a value it cannot write. Run against both stores (``store`` fixture)."""
from __future__ import annotations

import json
import math

from tests.fakes import Harness

from .builders import T0


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_an_odd_result_is_stored_as_strict_json_and_reads_back(store):
    harness = Harness(T0, store=store)

    @harness.handler("odd")
    def odd(ctx):
        return {"nan": math.nan, "inf": -math.inf, "text": "a\udc00b", "k\ud800": 1, "deep": nested(960)}

    harness.service.register_job("odd-result", "* * * * *", "odd")
    execution = harness.service.trigger_job("odd-result")

    stored = store.get_execution("odd-result", execution.execution_id)
    assert stored.status.value == "succeeded", stored.error
    result = stored.result
    assert result["nan"] == {"$unrepresentable": "NaN"} and result["inf"] == {"$unrepresentable": "-Infinity"}
    assert result["text"] == "a\ufffdb" and result["k\ufffd"] == 1
    json.dumps(result, allow_nan=False).encode("utf-8")
    job = store.get_job("odd-result")
    assert job.last_execution is not None and job.last_execution.result == result
