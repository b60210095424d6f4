"""The job registry: handlers are added by name at import time, never hard-coded.

    registry = JobRegistry()

    @registry.handler("nightly-report", "Build the nightly report")
    def nightly_report(ctx: RunContext) -> dict: ...
"""
from __future__ import annotations

from typing import Callable, Iterable

from chalicelib.core.ports import Handler, HandlerFn, PayloadField, PayloadValidator


class JobRegistry:
    """The process's handlers by name: the :class:`~chalicelib.core.ports.HandlerCatalog` port."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(
        self,
        name: str,
        fn: HandlerFn,
        description: str = "",
        validate_payload: PayloadValidator | None = None,
        payload_fields: tuple[PayloadField, ...] = (),
        run_options: Iterable[str] = (),
    ) -> None:
        """Register ``fn`` as ``name``. Re-adding the same function is a no-op.

        ``validate_payload``, when given, is run on a job's payload when the job is
        registered, so a bad payload is refused then rather than failing every night.
        ``payload_fields`` describe the payload to callers (``GET /handlers``, the console).
        ``run_options`` are payload fields accepted on a trigger's payload only: a stored
        definition carrying one is refused (it would apply to every scheduled run).
        """
        existing = self._handlers.get(name)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"handler '{name}' is already registered to another function")
        summary = description or (fn.__doc__ or "").strip().split("\n")[0]
        self._handlers[name] = Handler(name, summary, fn, validate_payload, tuple(payload_fields),
                                             run_options=frozenset(run_options))

    def handler(
        self, name: str, description: str = "", validate_payload: PayloadValidator | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Decorator form of :meth:`add`."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self.add(name, fn, description, validate_payload)
            return fn

        return decorate

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def all(self) -> list[Handler]:
        return sorted(self._handlers.values(), key=lambda h: h.name)
