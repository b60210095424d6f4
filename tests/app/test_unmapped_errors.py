"""An error type the problem table does not name is a logged 500, never a guessed 400."""
from __future__ import annotations

import logging

import app as app_module
from chalicelib.core.errors import SchedulerError


class Undeclared(SchedulerError):
    """Raised on purpose somewhere, but nobody declared its problem."""


def test_an_undeclared_error_is_a_500_and_is_logged(api, monkeypatch, caplog):
    def fail(_name):
        raise Undeclared("the detail stays in the log")

    monkeypatch.setattr(api.runtime.service.reads, "describe_job", fail)
    stdlib_logger = logging.getLogger(app_module.logger.name)
    stdlib_logger.addHandler(caplog.handler)
    try:
        response = api.call("GET", "/jobs/nightly")
    finally:
        stdlib_logger.removeHandler(caplog.handler)

    assert response.status_code == 500
    assert response.json["type"].endswith("/internal-error")
    assert "the detail stays in the log" not in response.body.decode()
    assert [r.levelno for r in caplog.records if r.exc_info and r.exc_info[0] is Undeclared][:1] == [logging.ERROR]
