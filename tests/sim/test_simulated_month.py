"""35 simulated days across DST changes on the memory store; one day on moto."""
from __future__ import annotations

from tests.fakes import utc
from tests.sim.simulation import run_simulation

# 2026-10-01 .. 2026-11-05 crosses Sydney's and Lord Howe's spring-forward (4 Oct),
# Oslo's fall-back (25 Oct) and New York's fall-back (1 Nov), a month end with `L`
# (31 Oct) and several weeks.
START = utc(2026, 10, 1, 0, 0)


def test_a_simulated_month_keeps_every_invariant(record_property):
    _harness, result = run_simulation(START, 35, seed=20261128)
    record_property("summary", "simulated month (memory store): " + result.summary())
    assert result.problems == []
    assert result.counts["succeeded"] > 10_000 and result.counts["failed"] > 1_000
    assert result.counts["skipped"] > 0 and result.alerts > 10 and result.recoveries > 10
    # the oracle checked each of these slot by slot (see simulation.WINDOWS and PAUSES)
    assert result.window_skips > 100 and result.missed_runs > 5
    assert result.paused_slots > 20 and result.pauses_expired == 4

