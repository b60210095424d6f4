"""X-Ray tracing through Powertools, loaded only where tracing is on.

Importing the X-Ray SDK costs a cold start about 0.2 s: the Tracer is built on first use,
and only in Lambda unless ``POWERTOOLS_TRACE_DISABLED`` is set. Elsewhere
:func:`subsegment` is a no-op.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()
_tracer: list[Any] = []


def tracer() -> Any:
    """Powertools' Tracer, or None where X-Ray is off."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true") \
            or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    with _lock:
        if not _tracer:
            from aws_lambda_powertools.tracing import Tracer

            _tracer.append(Tracer(service="nightly-scheduler"))
        return _tracer[0]


class _Segment:
    def __init__(self, segment: Any) -> None:
        self._segment = segment

    def annotate(self, key: str, value: str) -> None:
        if self._segment is not None:
            self._segment.put_annotation(key=key, value=value)


@contextmanager
def subsegment(name: str) -> Iterator[_Segment]:
    """A traced subsegment named ``name`` (nothing where tracing is off)."""
    active = tracer()
    if active is None:
        yield _Segment(None)
        return
    with active.provider.in_subsegment(name) as segment:
        yield _Segment(segment)
