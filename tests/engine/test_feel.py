"""The call's feel (rtgen/engine/feel.py): a player's timing around the grid is given to the
answer's notes; a machine-timed call is answered on the grid exactly; nothing overlaps or
hangs because a note moved."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen.engine.bias import Strengths
from rtgen.engine.engine import EngineConfig
from rtgen.engine.feel import MAX_STEPS, Feel, phase_spread, spaced
from rtgen.engine.manner import estimate_manner
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from rtgen.engine.steer import SteerConfig
from rtgen.events import Note
from tests.engine.fakes import FakeSession

G = 12


def test_a_machine_timed_call_or_strength_zero_has_no_feel() -> None:
    assert Feel.of([0.0, 0.02, -0.03], strength=1.0, seed=0) is None  # under 0.1 step RMS
    assert Feel.of([1.0, -1.0, 0.0, 1.01], strength=1.0, seed=0) is None  # sequenced 32nds
    assert Feel.of([0.48, -0.49, 0.47, 1.49], strength=1.0, seed=0) is None  # one phase
    assert Feel.of([0.4, -0.5, 0.3], strength=0.0, seed=0) is None
    assert Feel.of([], strength=1.0, seed=0) is None
    assert Feel.of([0.4, -0.3, 0.1, -0.1], strength=1.0, seed=0) is not None


def test_phase_spread_is_zero_at_any_one_phase_and_large_for_a_hand() -> None:
    assert phase_spread(np.full(8, 0.3)) == pytest.approx(0.0, abs=1e-6)
    assert phase_spread(np.array([0.49, -0.49, 0.5, -0.48])) < 0.02
    hand = np.random.default_rng(0).normal(0.0, 0.36, 400)  # 15 ms at 120 BPM
    assert phase_spread(hand) > 0.25


def test_offsets_are_the_calls_own_deviations_scaled_and_repeat_by_seed_and_step() -> None:
    dev = [0.4, -0.5, 0.3, 2.0]
    feel = Feel.of(dev, strength=0.5, seed=3)
    drawn = {feel.offset(s) for s in range(200)}
    assert drawn == {0.2, -0.25, 0.15, MAX_STEPS * 0.5 * 2}  # 2.0 x 0.5 = 1.0, the clip
    again = Feel.of(dev, strength=0.5, seed=3)
    assert [feel.offset(s) for s in range(50)] == [again.offset(s) for s in range(50)]
    other = Feel.of(dev, strength=0.5, seed=4)
    assert [feel.offset(s) for s in range(50)] != [other.offset(s) for s in range(50)]


def test_spaced_offsets_never_let_two_onsets_meet() -> None:
    rng = np.random.default_rng(0)
    onsets = np.cumsum(rng.integers(1, 4, 200)).tolist()
    moved = [s + d for s, d in zip(onsets, spaced(onsets, rng.uniform(-1, 1, 200).tolist()))]
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(moved, moved[1:]))


def test_the_manner_keeps_each_onsets_deviation_from_its_snapped_step() -> None:
    notes = [Note(0.03, 0.4, 60), Note(0.5 - 0.05, 0.9, 62), Note(1.0, 1.4, 64)]
    m = estimate_manner(notes)
    assert m.onsets == (0, 6, 12)
    assert m.deviations == pytest.approx((0.36, -0.6, 0.0))


def _humanised_call(rig: OfflineRig, sd_beats: float, seed: int = 1) -> list:
    """Sixteen 8th notes from beat 4, each onset moved by N(0, sd_beats)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(16):
        on = 4 + 0.5 * i + float(rng.normal(0, sd_beats))
        p = 60 + (i * 5) % 12
        out += [(rig.beats_to_ns(on), (0x90, p, 90)), (rig.beats_to_ns(on + 0.4), (0x80, p, 0))]
    return out


def _model_notes(rig: OfflineRig) -> tuple[list[float], int, int]:
    """(model onsets in grid steps, re-strikes before the pitch's previous note-off, notes
    left sounding) from what the rig's port was sent."""
    onsets, overlaps, sounding = [], 0, set()
    for t, m in rig.port.sent:
        if m[0] & 0xF0 == 0x90 and m[2]:
            onsets.append(rig.timeline.beat_at(t) * G)
            overlaps += m[1] in sounding
            sounding.add(m[1])
        elif m[0] & 0xF0 in (0x80, 0x90):
            sounding.discard(m[1])
    return onsets, overlaps, len(sounding)


def _answer(feel: float, sd_beats: float) -> tuple[list[float], int, int]:
    steer = SteerConfig(Strengths(texture=8.0), feel=feel)
    cfg = EngineConfig(
        ModeConfig(silence=1.0),
        SamplerConfig(seed=0, low=48, high=84, max_note_beats=2.0),
        steer=steer,
    )
    rig = OfflineRig(cfg, FakeSession(0), bpm=120.0)
    rig.run(_humanised_call(rig, sd_beats), rig.beats_to_ns(32))
    rig.stop()
    return _model_notes(rig)


def _off_grid(onsets: list[float]) -> float:
    return float(np.mean([abs(s - round(s)) > 0.05 for s in onsets]))


def test_a_human_call_is_answered_with_its_feel_and_a_clean_one_on_the_grid() -> None:
    """Onsets moved by 15 ms (0.36 step) at 120 BPM: most answer onsets leave the grid, by at
    most one step; the same call with feel 0, or a call within 2 ms of the grid, is
    answered exactly on it. Moved notes never re-strike a sounding pitch, none hangs."""
    human, overlaps, left = _answer(feel=1.0, sd_beats=0.03)
    assert len(human) >= 3 and _off_grid(human) > 0.5, human
    assert all(abs(s - round(s)) <= MAX_STEPS + 1e-6 for s in human)
    assert overlaps == 0 and left == 0
    for onsets, _, left in (_answer(feel=0.0, sd_beats=0.03), _answer(feel=1.0, sd_beats=0.004)):
        assert len(onsets) >= 3 and _off_grid(onsets) == 0.0 and left == 0
