"""Onset timing measured at the test synth.

``deadline_errors_ms`` is the honest judge: each note-on's arrival against the deadline the
planner gave it, in absolute time. The deadlines come from the session's own log replayed
(``rtgen play --log``, rtgen.replay: ``ReplayResult.sent`` holds every message at its
deadline, on the CLOCK_MONOTONIC the synth stamps arrivals on). A constant delay, or a note
a whole grid step late, is an error of that size here.

``grid_errors_ms`` fits a grid to the onsets themselves: blind to a constant delay and to a
note a whole step late (it lands on the next grid line), and an error past half a step wraps
around. It stays for onsets that have no planned deadline (an external clock's tests judge
against the ticks).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

MATCH_S = 0.2  # an arrival further than this from every deadline of its key is no match


def grid_errors_ms(times: list[float], step_s: float) -> np.ndarray:
    """Each onset's distance (ms) from a common grid of ``step_s`` fitted to all of them."""
    t = np.asarray(times) - times[0]
    phase = np.angle(np.mean(np.exp(2j * np.pi * t / step_s)))  # circular mean of phases
    offset = phase / (2 * np.pi) * step_s
    resid = (t - offset) - np.round((t - offset) / step_s) * step_s
    return np.abs(resid) * 1e3


def _note_ons(messages, scale: float) -> dict[tuple[int, int], list[float]]:
    out: dict[tuple[int, int], list[float]] = defaultdict(list)
    for t, m in messages:
        if len(m) >= 3 and m[0] & 0xF0 == 0x90 and m[2] > 0:
            out[(m[0] & 15, m[1])].append(t * scale)
    return out


def deadline_errors_ms(
    arrivals: list[tuple[float, list[int]]], planned: list[tuple[int, tuple[int, ...]]]
) -> tuple[np.ndarray, np.ndarray, int]:
    """(arrival times of the matched note-ons (s), their arrival - deadline (ms, signed),
    planned note-ons that never arrived). ``arrivals``: the synth's (perf_counter s,
    message); ``planned``: the replay's (CLOCK_MONOTONIC ns, message). Note-ons of one
    (channel, pitch) are matched in order, each to the nearest arrival within MATCH_S."""
    got = _note_ons(arrivals, 1.0)
    due = _note_ons(planned, 1e-9)
    times, errors, lost = [], [], 0
    for key, deadlines in due.items():
        pool = sorted(got.get(key, []))
        for d in sorted(deadlines):
            near = [a for a in pool if abs(a - d) <= MATCH_S]
            if not near:
                lost += 1
                continue
            a = min(near, key=lambda x: abs(x - d))
            pool.remove(a)
            times.append(a)
            errors.append((a - d) * 1e3)
    return np.asarray(times), np.asarray(errors), lost
