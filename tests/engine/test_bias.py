"""The manner bias: each aspect moves the logits the way its call asks, and only when on."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.engine.bias import MannerBias, Strengths
from rtgen.engine.manner import estimate_manner
from rtgen.engine.sampler import GenState
from rtgen.events import Note

G = T.GRID_STEPS_PER_BEAT
START = 96  # the answer's first step (beat 8)
LINE = [Note(i * 0.5, i * 0.5 + 0.5, 60 + i % 5, 100) for i in range(16)]  # 8ths, 60..64
SWUNG = [Note(b + off, b + off + 0.3, 62, 80) for b in range(8) for off in (0.0, 2 / 3)]
CHORDS = [Note(b, b + 0.9, p) for b in range(8) for p in (60, 64, 67)]


def _apply(notes: list[Note], gen: GenState, played: int = 0, **strength: float) -> np.ndarray:
    """The bias alone: applied to zero logits."""
    b = MannerBias(estimate_manner(notes), Strengths(**strength), START, 8 * G)
    z = np.zeros(T.VOCAB_SIZE)
    b.apply(z, gen, played)
    return z


def _gen(step: int = START, sounding: dict | None = None, **kw: object) -> GenState:
    return GenState(step=step, sounding=dict(sounding or {}), **kw)


def test_every_strength_zero_changes_nothing() -> None:
    """All aspects off: the model's logits as they were."""
    z = _apply(LINE, _gen(START + 5, {62: START}, recent=((START, 62),), velocity_bin=3))
    assert not z.any()


def test_texture_a_single_line_is_not_struck_over_a_sounding_note() -> None:
    """After a single-line call, NOTE_ON and VELOCITY lose ``texture`` while a model note
    sounds; after a three-voice call, not until three sound."""
    z = _apply(LINE, _gen(sounding={60: START}), texture=6)
    assert z[T.note_on(64)] == z[T.velocity_token(5)] == -6 and z[T.shift_token(3)] == 0
    assert not _apply(LINE, _gen(), texture=6).any()
    assert not _apply(CHORDS, _gen(sounding={60: START, 64: START}), texture=6).any()
    assert _apply(CHORDS, _gen(sounding={60: 0, 64: 0, 67: 0}), texture=6)[T.note_on(72)] < 0


def test_density_behind_plays_ahead_waits() -> None:
    """A call of 2 notes a beat: two beats into the answer with one note played, NOTE_ON
    gains; with eight played, it loses (by at most three notes' worth)."""
    gen = _gen(START + 2 * G)
    assert _apply(LINE, gen, played=1, density=1)[T.note_on(62)] > 2
    assert _apply(LINE, gen, played=8, density=1)[T.note_on(62)] == -3


def test_register_pitches_outside_the_call_lose() -> None:
    """After a call in 60..64, 62 (its mean) costs least, 72 more, 84 much more."""
    z = _apply(LINE, _gen(), register=1)
    assert z[T.note_on(62)] > z[T.note_on(66)] > z[T.note_on(72)] > z[T.note_on(84)]
    assert z[T.note_on(62)] == pytest.approx(0.0, abs=0.1)


def test_key_out_of_key_pitches_lose_its_strength() -> None:
    """With C major as the preference, C# loses ``key``, D nothing; no scale: nothing."""
    b = MannerBias(estimate_manner(LINE), Strengths(key=2.5), START, 8 * G)
    z = np.zeros(T.VOCAB_SIZE)
    b.apply(z, _gen(), 0)
    assert not z.any()
    b.set_scale({0, 2, 4, 5, 7, 9, 11})
    b.apply(z, _gen(), 0)
    assert (z[T.note_on(61)], z[T.note_on(62)]) == (-2.5, 0.0)


def test_rhythm_a_swung_call_moves_the_answer_to_the_third_triplet() -> None:
    """After swung 8ths, from an onset on the beat SHIFT(8) (the swung off-beat) is far
    likelier than SHIFT(6) (straight), from step 8 SHIFT(4) (the next beat); striking on
    step 8 gains, on step 6 loses. The SHIFTs' total stays the model's."""
    gen = _gen(START, recent=((START, 62),))
    z = _apply(SWUNG, gen, rhythm=1)
    shift = z[T.SHIFT_BASE : T.SHIFT_BASE + T.MAX_SHIFT]
    assert shift[8 - 1] > shift[6 - 1] + 3 and shift[8 - 1] > shift[12 - 1]
    assert np.exp(shift).sum() == pytest.approx(T.MAX_SHIFT)  # zero logits: total kept
    z8 = _apply(SWUNG, _gen(START + 8, recent=((START + 8, 62),)), rhythm=1)
    assert np.argmax(z8[T.SHIFT_BASE : T.SHIFT_BASE + T.MAX_SHIFT]) == 4 - 1
    strike8 = _apply(SWUNG, _gen(START + 8, recent=((START, 62),)), rhythm=1)
    strike6 = _apply(SWUNG, _gen(START + 6, recent=((START, 62),)), rhythm=1)
    assert strike8[T.note_on(62)] > 0 > strike6[T.note_on(62)]


def test_rhythm_notes_end_at_the_calls_lengths() -> None:
    """After a call of 8th notes (6 steps), a model note 6 steps old is likelier to end now
    than one 2 steps old."""
    old = _apply(LINE, _gen(START + 6, {60: START}), rhythm=1)[T.note_off(60)]
    young = _apply(LINE, _gen(START + 2, {60: START}), rhythm=1)[T.note_off(60)]
    assert old > 0 > young


def test_dynamics_velocity_bins_near_the_calls_win() -> None:
    """After a call at velocity 100 (bin 24), VELOCITY(24) costs nothing and VELOCITY(19)
    (the model's usual 78) loses; while the current bin is far off, changing gains."""
    z = _apply(LINE, _gen(velocity_bin=24), dynamics=1)
    target = T.velocity_to_bin(100)
    assert z[T.velocity_token(target)] == 0 > z[T.velocity_token(19)]
    far = _apply(LINE, _gen(velocity_bin=10), dynamics=1)
    assert far[T.velocity_token(target)] > 0
