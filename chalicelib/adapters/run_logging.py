"""Puts the fields of the run in progress on every log record (see ``RUN_FIELDS``)."""
from __future__ import annotations

import logging

from chalicelib.core.context import RUN_FIELDS
from chalicelib.core.redaction import RUN_SECRETS


class RunFieldsFilter(logging.Filter):
    """Adds ``job_name``, ``execution_id``, ``slot`` and ``attempt`` to records written
    during a run, by any logger (the handler's, a library's), unless already set, and
    removes from the message the secrets the run resolved (``redaction.RUN_SECRETS``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in RUN_FIELDS.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        scrub = RUN_SECRETS.get()
        if scrub:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string is the formatter's to report
                return True
            clean = scrub(message)
            if clean != message:
                record.msg, record.args = clean, None
        return True


def install(logger: logging.Logger) -> None:
    """Attach the filter to every handler of ``logger`` (records of child loggers too)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RunFieldsFilter) for f in handler.filters):
            handler.addFilter(RunFieldsFilter())
