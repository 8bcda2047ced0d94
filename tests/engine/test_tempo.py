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


def _rig(**settings):
    from rtgen.config import PlaySettings
    from rtgen.engine.build import engine_config
    from rtgen.engine.offline import OfflineRig
    from tests.engine.fakes import FakeSession

    s = PlaySettings(seed=1, silence=1.0, **settings).validate()
    cfg = engine_config(s, 1)
    return OfflineRig(cfg, FakeSession(1), bpm=120.0)


def _model_onsets(rig) -> list[int]:
    return [t for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]


def test_bpm_auto_answers_on_the_grid_of_a_call_at_96_bpm() -> None:
    """rtgen's own clock starts at 120; a call of eight quarters at 96 BPM (1 ms of jitter, a
    sequencer's or a test keyboard's) sets tempo and beat: every answer onset is on the
    player's 96 BPM grid (1/12 beat) to within 3 ms, and the answer starts on one of the
    player's beats. (A hand's 10 ms would drift further by the answer: the estimate is as
    good as the call's timing.)"""
    rig = _rig(bpm_auto=True, max_note_beats=0.5)
    rng = np.random.default_rng(3)
    t0 = rig.clock.now_ns() + 700_000_000  # not on rtgen's provisional beat
    inputs = []
    for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62]):
        on = int(t0 + i * BEAT_96 + rng.normal(0, 1e6))
        inputs += [(on, (0x90, p, 90)), (on + int(0.8 * BEAT_96), (0x80, p, 0))]
    rig.run(inputs, int(t0 + 24 * BEAT_96))
    ons = _model_onsets(rig)
    assert ons and rig.timeline.bpm == pytest.approx(96, rel=2e-3)
    steps = [(t - t0) / (BEAT_96 / 12) for t in ons]
    errors_ms = [abs(s - round(s)) * BEAT_96 / 12 / 1e6 for s in steps]
    assert max(errors_ms) < 3.0, errors_ms
    first = (ons[0] - t0) / BEAT_96
    assert abs(first - round(first)) * BEAT_96 / 1e6 < 3.0 and first > 8


def test_a_steady_count_of_taps_sets_the_tempo_while_listening() -> None:
    """Four taps 625 ms apart (the engine's tap, as a CC mapped to "tap" calls it): rtgen's
    clock goes from 120 to 96 BPM with a beat on the last tap."""
    rig = _rig()
    t = rig.clock.now_ns() + 300_000_000
    for i in range(4):
        when = int(t + i * BEAT_96)
        rig.clock.set(when)
        rig.engine.tap(when)
    assert rig.timeline.bpm == pytest.approx(96)
    last = t + 3 * BEAT_96
    assert rig.timeline.beat_at(int(last)) == pytest.approx(round(rig.timeline.beat_at(int(last))))
