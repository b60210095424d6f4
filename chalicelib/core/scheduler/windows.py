"""Maintenance windows over the API: create, list, end early.

Every window is in one stored record (:meth:`Store.maintenance_windows`); each change is
one conditional write of that record, read again after a lost race. What a window does
to a slot is decided by the dispatcher (:func:`transitions.plan`).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from chalicelib.core import maintenance
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.maintenance import MaintenanceWindow, MaintenanceWindowNotFound
from chalicelib.core.model import Actor
from chalicelib.core.ports import Clock, RandomSource, Store
from chalicelib.core.scheduler.common import give_up, retry_on_conflict


class MaintenanceWindows:
    """``POST``/``GET /maintenance-windows`` and ``DELETE /maintenance-windows/{id}``."""

    def __init__(self, *, store: Store, clock: Clock, rand: RandomSource, log: logging.Logger) -> None:
        self.store = store
        self.clock = clock
        self.rand = rand
        self.log = log

    def create(self, body: Any, actor: Actor | None = None) -> MaintenanceWindow:
        """Validate ``body`` (``{"from", "to", "reason", "jobs" | "owner" | "all", "runMissed"}``)
        and store the window; windows that ended more than 7 days ago are dropped meanwhile.
        Raises ``ValidationFailed`` naming each bad field."""
        now = self.clock.now()
        window = maintenance.parse_window(body, now=now, actor=actor,
                                          window_id=maintenance.window_id_for(now, self.rand.random()))

        def step(_attempt: int) -> MaintenanceWindow:
            stored = self.store.maintenance_windows()
            kept = maintenance.listed(stored.windows, now)
            taken = {w.window_id for w in stored.windows}
            nonlocal window
            while window.window_id in taken:  # same second, same random suffix: the next one
                window = replace(window, window_id=maintenance.next_window_id(window.window_id))
            if len(kept) >= maintenance.MAX_STORED:
                raise ValidationFailed([FieldError("from", (
                    f"at most {maintenance.MAX_STORED} windows are kept at once (current, upcoming and ended "
                    "in the last 7 days); end or wait out some first"))])
            self.store.save_maintenance_windows([*kept, window], expected_version=stored.version)
            return window

        created = retry_on_conflict(step, on_exhausted=give_up("maintenance windows kept changing; retry"))
        self.log.info("maintenance window created", extra={
            "window_id": created.window_id, "from": created.starts_at.isoformat(), "to": created.ends_at.isoformat(),
            "actor": str(actor) if actor else None})
        return created

    def list(self) -> list[MaintenanceWindow]:
        """Current and upcoming windows and those that ended in the last 7 days, by start."""
        return maintenance.listed(self.store.maintenance_windows().windows, self.clock.now())

    def get(self, window_id: str) -> MaintenanceWindow:
        """One stored window (also one ended more than 7 days ago and not yet dropped);
        ``MaintenanceWindowNotFound`` for an id not stored."""
        found = [w for w in self.store.maintenance_windows().windows if w.window_id == window_id]
        if not found:
            raise MaintenanceWindowNotFound(window_id)
        return found[0]

    def end(self, window_id: str, actor: Actor | None = None) -> MaintenanceWindow:
        """End the window now (an upcoming one never starts); ``MaintenanceWindowNotFound``
        for an id not stored. Slots a ``runMissed`` window held run when their job is next
        due (at the latest at the window's planned end)."""

        def step(_attempt: int) -> MaintenanceWindow:
            now = self.clock.now()
            stored = self.store.maintenance_windows()
            found = [w for w in stored.windows if w.window_id == window_id]
            if not found:
                raise MaintenanceWindowNotFound(window_id)
            ended = maintenance.end_now(found[0], now, actor)
            if ended is not found[0]:
                windows = [ended if w.window_id == window_id else w for w in stored.windows]
                self.store.save_maintenance_windows(windows, expected_version=stored.version)
            return ended

        return retry_on_conflict(step, on_exhausted=give_up("maintenance windows kept changing; retry"))
