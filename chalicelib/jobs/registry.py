"""The handler registry: handlers are added by name at import time, never hard-coded.

    registry = HandlerRegistry()

    @registry.handler("nightly-report", "Build the nightly report")
    def nightly_report(ctx: RunContext) -> dict: ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from chalicelib.core.context import RunContext
from chalicelib.core.errors import FieldError

HandlerFn = Callable[[RunContext], Any]
PayloadValidator = Callable[[Mapping[str, Any]], list[FieldError]]
"""Checks a job's payload at registration; field names are relative to ``payload``."""


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    description: str
    fn: HandlerFn
    validate_payload: PayloadValidator | None = None


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, RegisteredHandler] = {}

    def add(
        self,
        name: str,
        fn: HandlerFn,
        description: str = "",
        validate_payload: PayloadValidator | None = None,
    ) -> None:
        """Register ``fn`` as ``name``. Re-adding the same function is a no-op.

        ``validate_payload``, when given, is run on a job's payload when the job is
        registered, so a bad payload is refused then rather than failing every night.
        """
        existing = self._handlers.get(name)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"handler '{name}' is already registered to another function")
        summary = description or (fn.__doc__ or "").strip().split("\n")[0]
        self._handlers[name] = RegisteredHandler(name, summary, fn, validate_payload)

    def handler(
        self, name: str, description: str = "", validate_payload: PayloadValidator | None = None
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Decorator form of :meth:`add`."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self.add(name, fn, description, validate_payload)
            return fn

        return decorate

    def get(self, name: str) -> RegisteredHandler | None:
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def all(self) -> list[RegisteredHandler]:
        return sorted(self._handlers.values(), key=lambda h: h.name)
