"""A job record keeps its last 10 finished runs, newest first, for the console's overview strip
(policies.account_outcome folds each final execution in; policies.recent_runs is the rule)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core.model import RECENT_RUNS, ExecutionStatus
from chalicelib.core.policies import account_outcome, recent_runs
from tests.contract.builders import T0, make_execution, make_job

S = ExecutionStatus


def finished(minutes: int, status: ExecutionStatus = S.SUCCEEDED, attempt: int = 1):
    return replace(make_execution("nightly-report", T0 + timedelta(minutes=minutes), attempt), status=status,
                   finished_at=T0 + timedelta(minutes=minutes, seconds=5))


@pytest.mark.parametrize("runs, expected", [
    ([], []),
    ([(0, S.FAILED)], [(0, S.FAILED)]),
    ([(0, S.SUCCEEDED), (1, S.FAILED), (2, S.SKIPPED), (3, S.MISSED)],
     [(3, S.MISSED), (2, S.SKIPPED), (1, S.FAILED), (0, S.SUCCEEDED)]),
    ([(m, S.SUCCEEDED) for m in range(12)], [(m, S.SUCCEEDED) for m in range(11, 1, -1)]),  # the oldest two drop out
])
def test_each_final_run_goes_first_and_only_the_last_ten_stay(runs, expected):
    job = make_job()
    for minute, status in runs:
        job = account_outcome(job, finished(minute, status), now=T0 + timedelta(minutes=minute, seconds=5))
    assert [(r.scheduled_for, r.status) for r in job.recent_runs] == [(T0 + timedelta(minutes=m), s) for m, s in expected]
    assert len(job.recent_runs) <= RECENT_RUNS == 10


def test_a_run_folded_in_again_replaces_its_own_entry():
    job = make_job()
    first, second = finished(0, S.TIMED_OUT), finished(1)
    job = replace(job, recent_runs=recent_runs(recent_runs_of(job, first, second), first))
    assert [(r.execution_id, r.status) for r in job.recent_runs] == [(first.execution_id, S.TIMED_OUT),
                                                                     (second.execution_id, S.SUCCEEDED)]


def recent_runs_of(job, *executions):
    for execution in executions:
        job = replace(job, recent_runs=recent_runs(job, execution))
    return job
