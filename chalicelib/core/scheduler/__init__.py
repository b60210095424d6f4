"""The scheduler: the API service (what callers ask) and the engine (what the clock and
the workers do), each built in ``chalicelib.bootstrap`` with only the ports it uses."""
from __future__ import annotations

from chalicelib.core.scheduler.api_service import ApiService
from chalicelib.core.scheduler.dispatch import DispatchReport
from chalicelib.core.scheduler.engine import Engine

__all__ = ["ApiService", "DispatchReport", "Engine"]
