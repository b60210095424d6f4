"""Small built-in handlers that need no settings."""
from __future__ import annotations

from typing import Any

from chalicelib.core.context import RunContext
from chalicelib.core.model import iso
from chalicelib.jobs.registry import JobRegistry


def noop(ctx: RunContext) -> dict[str, Any]:
    """Does nothing but log and report the run: for trying schedules and alerts."""
    ctx.logger.info("noop handler ran")
    return {"ok": True, "scheduledFor": iso(ctx.scheduled_for), "attempt": ctx.attempt,
            "payloadKeys": sorted(ctx.payload)}


def install(registry: JobRegistry) -> None:
    registry.add("noop", noop, "Does nothing but record the run: for trying schedules.")
