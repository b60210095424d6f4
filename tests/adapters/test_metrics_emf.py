"""The EMF the alarms and dashboard are built on: namespace and exact dimension sets."""
from __future__ import annotations

import json

from chalicelib.adapters.metrics import EmfMetrics


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_per_job_metrics_carry_service_and_job_name_and_dispatcher_metrics_service_only(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = EmfMetrics("NightlyScheduler/test", "nightly-scheduler")
    metrics.record("ExecutionFailed", 1, job_name="certification-expiry-check")
    metrics.record("ExecutionDurationMs", 1234, unit="Milliseconds", job_name="certification-expiry-check")
    metrics.record("DispatcherHeartbeat", 1)
    metrics.record("DueSlots", 5)
    metrics.flush()
    blobs = emitted(capsys)
    per_job = [b for b in blobs if "JobName" in b]
    assert {tuple(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for b in per_job} == {("service", "JobName")}
    assert {b["JobName"] for b in per_job} == {"certification-expiry-check"}
    assert per_job[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ExecutionDurationMs", "Unit": "Milliseconds"}]
    [dispatcher] = [b for b in blobs if "JobName" not in b]
    assert dispatcher["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert dispatcher["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "NightlyScheduler/test"
    assert dispatcher["DispatcherHeartbeat"] == [1.0] and dispatcher["DueSlots"] == [5.0]


def test_a_flush_with_nothing_recorded_writes_nothing_and_warns_nothing(capsys, monkeypatch, recwarn):
    """Every function flushes after every invocation; most record no dispatcher metric.
    Powertools warns "No application metrics to publish" on an empty flush: once per cold
    start in every function's log, for nothing."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = EmfMetrics("NightlyScheduler/test", "nightly-scheduler")
    metrics.flush()
    metrics.record("ExecutionFailed", 1, job_name="a-job")  # per-job points go out at once
    metrics.flush()
    assert [str(w.message) for w in recwarn] == []
    assert [b["ExecutionFailed"] for b in emitted(capsys)] == [[1.0]]
    metrics.record("DispatcherHeartbeat", 1)
    metrics.flush()
    metrics.flush()
    assert [str(w.message) for w in recwarn] == []
    assert [b["DispatcherHeartbeat"] for b in emitted(capsys)] == [[1.0]]
