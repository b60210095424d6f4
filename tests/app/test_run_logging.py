"""Every log line written during a run carries the run's fields, whoever writes it."""
from __future__ import annotations

import io
import json
import logging

from chalicelib.adapters.run_logging import RunFieldsFilter


def test_lines_from_any_logger_during_a_run_carry_job_execution_slot_and_attempt(api):
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter())
    handler.addFilter(RunFieldsFilter())
    library = logging.getLogger("some.library")
    library.addHandler(handler)
    library.setLevel(logging.INFO)

    def chatty(ctx):
        library.info("inside the handler")

    api.registry.add("chatty", chatty)
    api.call("POST", "/jobs", {"jobName": "chatty-job", "cronExpression": "* * * * *", "handler": "chatty"})
    api.dispatch("2026-11-28T20:01:00Z")
    library.removeHandler(handler)
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["message"] == "inside the handler"
    assert line["job_name"] == "chatty-job" and line["attempt"] == 1
    assert line["slot"] == "2026-11-28T20:01:00+00:00" and line["execution_id"] == "20261128T200100000Z-a01"
