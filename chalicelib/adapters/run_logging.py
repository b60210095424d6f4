"""Puts the fields of the run in progress on every log record (see ``RUN_FIELDS``)."""
from __future__ import annotations

import logging

from chalicelib.core.context import RUN_FIELDS


class RunFieldsFilter(logging.Filter):
    """Adds ``job_name``, ``execution_id``, ``slot`` and ``attempt`` to records written
    during a run, by any logger (the handler's, a library's), unless already set."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in RUN_FIELDS.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def install(logger: logging.Logger) -> None:
    """Attach the filter to every handler of ``logger`` (records of child loggers too)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RunFieldsFilter) for f in handler.filters):
            handler.addFilter(RunFieldsFilter())
