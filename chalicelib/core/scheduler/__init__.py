"""The scheduler service: :class:`SchedulerService` and what one tick reports."""
from __future__ import annotations

from chalicelib.core.scheduler.dispatch import DispatchReport
from chalicelib.core.scheduler.facade import SchedulerService

__all__ = ["DispatchReport", "SchedulerService"]
