"""The player's tempo (rtgen/engine/tempo.py): from a first call's onsets, and from taps."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen.engine.tempo import TapTempo, estimate_tempo

BEAT_96 = 60e9 / 96


def _onsets(positions: list[float], beat: float, jitter_ms: float, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(1e9 + p * beat + rng.normal(0, jitter_ms * 1e6)) for p in positions]


@pytest.mark.parametrize("seed", range(5))
def test_a_played_call_gives_its_tempo_and_phase_closely_enough_to_answer_on_its_grid(
    seed: int,
) -> None:
    """Quarters, eighths and a half note at 96 BPM, each onset off by a hand's 3 ms (sd):
    the tempo to within 0.15%, the phase to 5 ms, so ten beats after the call's end the
    grid is still within 10 ms of the player's."""
    pos = [0, 0.5, 1, 2, 2.5, 3, 4, 5, 5.5, 6, 7]
    est = estimate_tempo(_onsets(pos, BEAT_96, 3.0, seed))
    assert est is not None and est.bpm == pytest.approx(96, rel=1.5e-3)
    assert abs(est.beat_ns - 1e9) < 5e6
    later = est.beat_ns + 18 * 60e9 / est.bpm
    assert abs(later - (1e9 + 18 * BEAT_96)) < 10e6


def test_eighth_notes_read_as_the_beat_they_divide_and_fast_quarters_as_themselves() -> None:
    eighths = estimate_tempo(_onsets([i / 2 for i in range(12)], BEAT_96, 0.0))
    assert eighths.bpm == pytest.approx(96, rel=1e-6)
    fast = estimate_tempo(_onsets(list(range(8)), 60e9 / 160, 0.0))
    assert fast.bpm == pytest.approx(160, rel=1e-6)
    slow = estimate_tempo(_onsets([0, 2, 4, 6, 8], 60e9 / 200, 0.0))  # half notes at 100
    assert slow.bpm == pytest.approx(100, rel=1e-6)


def test_too_few_onsets_or_a_chord_show_no_tempo() -> None:
    assert estimate_tempo([0, 500_000_000, 1_000_000_000]) is None
    assert estimate_tempo([0, 1_000_000, 2_000_000, 3_000_000]) is None  # one gesture


def test_four_steady_taps_set_the_tempo_on_the_last_tap() -> None:
    taps = TapTempo()
    results = [taps.tap(int(5e9 + i * BEAT_96)) for i in range(4)]
    assert results[0] is None
    assert all(r.bpm == pytest.approx(96) for r in results[1:])
    assert results[-1].beat_ns == pytest.approx(5e9 + 3 * BEAT_96, abs=1)


def test_unsteady_taps_and_a_pause_start_a_new_count() -> None:
    taps = TapTempo()
    for t in (0, 500e6, 1300e6):  # 500 then 800 ms: not steady
        last = taps.tap(int(t))
    assert last is None
    assert taps.tap(int(5e9)) is None  # over two seconds later: a new count
    assert taps.tap(int(5.6e9)).bpm == pytest.approx(100)
