"""The timing judge (tests/support/timing.py) against what the old one could not see: a
constant 15 ms delay and a note a whole grid step late fail it (issue 17, point 7)."""

from __future__ import annotations

import numpy as np

from tests.support.timing import deadline_errors_ms, grid_errors_ms

STEP_S = 0.5 / 12  # one grid step at 120 BPM
BOUND_MS = 2.0


def _session(delay_s: float = 0.0, late_index: int | None = None):
    """Planned note-ons every 3 grid steps from t = 100 s, and their arrivals: each 0.4 ms
    after its deadline (JACK's period), plus ``delay_s``, one of them a grid step late."""
    planned, arrivals = [], []
    for i in range(24):
        d = 100.0 + i * 3 * STEP_S
        planned.append((int(round(d * 1e9)), (0x90, 60 + i % 12, 90)))
        a = d + 0.0004 + delay_s + (STEP_S if i == late_index else 0.0)
        arrivals.append((a, [0x90, 60 + i % 12, 90]))
    return arrivals, planned


def test_on_time_notes_pass_both_judges() -> None:
    arrivals, planned = _session()
    _, errors, lost = deadline_errors_ms(arrivals, planned)
    assert lost == 0 and np.abs(errors).max() <= BOUND_MS
    assert grid_errors_ms([t for t, _ in arrivals], STEP_S).max() <= BOUND_MS


def test_a_constant_15_ms_delay_fails_the_deadline_judge_only() -> None:
    arrivals, planned = _session(delay_s=0.015)
    _, errors, _ = deadline_errors_ms(arrivals, planned)
    assert np.abs(errors).min() >= 15.0  # every note: 15.4 ms late
    # the old judge fitted the delay away: every onset "on the grid"
    assert grid_errors_ms([t for t, _ in arrivals], STEP_S).max() < 0.01


def test_a_note_one_grid_step_late_fails_the_deadline_judge_only() -> None:
    arrivals, planned = _session(late_index=7)
    _, errors, _ = deadline_errors_ms(arrivals, planned)
    assert (np.abs(errors) > BOUND_MS).sum() == 1 and errors.max() > 41.0
    assert grid_errors_ms([t for t, _ in arrivals], STEP_S).max() < 0.01


def test_a_note_that_never_arrived_is_counted() -> None:
    arrivals, planned = _session()
    _, errors, lost = deadline_errors_ms(arrivals[:-1], planned)
    assert lost == 1 and len(errors) == 23
