"""Metrics as CloudWatch EMF through Powertools, flushed by the entry point.

Per-job metrics carry the ``JobName`` dimension; dispatcher metrics carry only the
``service`` dimension Powertools adds. Powertools' ``Metrics`` is a process-wide
singleton meant for one invocation at a time, so per-job points go out as
single-metric blobs (``single_metric``), and the dispatcher's through ``flush``.
"""
from __future__ import annotations

import logging
import threading

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

_UNITS = {"Count": MetricUnit.Count, "Milliseconds": MetricUnit.Milliseconds}


class EmfMetrics:
    def __init__(self, namespace: str, service: str) -> None:
        self._namespace = namespace
        self._service = service
        self._metrics = PowertoolsMetrics(namespace=namespace, service=service)
        self._lock = threading.Lock()

    def record(self, name: str, value: float, *, unit: str = "Count", job_name: str | None = None) -> None:
        metric_unit = _UNITS.get(unit, MetricUnit.Count)
        if job_name is None:
            with self._lock:
                self._metrics.add_metric(name=name, unit=metric_unit, value=value)
            return
        with single_metric(name=name, unit=metric_unit, value=value, namespace=self._namespace) as metric:
            metric.add_dimension(name="service", value=self._service)
            metric.add_dimension(name="JobName", value=job_name)

    def flush(self) -> None:
        """Write the buffered dispatcher metrics (called from Chalice middleware); nothing
        when none is buffered (Powertools would warn on every cold start)."""
        with self._lock:
            if not self._metrics.metric_set:
                return
            try:
                self._metrics.flush_metrics(raise_on_empty_metrics=False)
            except Exception:  # noqa: BLE001 - metrics must never fail a request
                logging.getLogger(__name__).warning("metrics flush failed", exc_info=True)

