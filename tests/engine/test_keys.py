"""Key estimation, scales, key names and the player's key tracker (rtgen/engine/keys.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.keys import (
    PLAY_HALF_LIFE_BEATS,
    KeyTracker,
    estimate_key,
    key_name,
    key_scores,
    parse_key,
    scale_pitch_classes,
)
from rtgen.events import Note
from tests.support.calls import MODULATING_CALLS, modulating_session

SEEDED = settings(derandomize=True, max_examples=60, deadline=None)

# (pitch, beats): "Twinkle, twinkle" in C major, and a made-up A minor tune with its G#.
TWINKLE_C = [(60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2),
             (65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2)]  # fmt: skip
TUNE_A_MINOR = [(69, 1), (72, 1), (76, 1), (81, 1), (80, 0.5), (81, 0.5), (83, 1), (84, 2),
                (83, 1), (81, 1), (76, 1), (74, 0.5), (72, 0.5), (71, 1), (69, 3)]  # fmt: skip


def histogram(tune: list[tuple[int, float]], transpose: int = 0) -> np.ndarray:
    w = np.zeros(12)
    for pitch, beats in tune:
        w[(pitch + transpose) % 12] += beats
    return w


def as_notes(tune: list[tuple[int, float]], transpose: int = 0, start: float = 0.0) -> list[Note]:
    notes, t = [], start
    for pitch, beats in tune:
        notes.append(Note(t, t + beats, pitch + transpose))
        t += beats
    return notes


def test_c_major_scale_is_c_major():
    """The seven notes of the C major scale, equally long, should read as C major."""
    w = np.zeros(12)
    w[sorted(scale_pitch_classes(0, "major"))] = 1.0
    tonic, mode, score = estimate_key(w)
    assert (tonic, mode) == (0, "major")
    assert score > 0.7


def test_a_minor_scale_is_a_minor():
    """A minor scales (harmonic; natural with the tonic held longer) should read as A minor."""
    harmonic = np.zeros(12)
    harmonic[[9, 11, 0, 2, 4, 5, 8]] = 1.0
    assert estimate_key(harmonic)[:2] == (9, "minor")
    natural = np.zeros(12)
    natural[sorted(scale_pitch_classes(9, "minor"))] = 1.0
    natural[9] += 2.0  # the scale played up and down, starting and ending on a long A
    assert estimate_key(natural)[:2] == (9, "minor")


@pytest.mark.parametrize("shift", range(12))
def test_transposed_melodies(shift: int):
    """A major and a minor tune transposed to each of the 12 tonics should be found there."""
    assert estimate_key(histogram(TWINKLE_C, shift))[:2] == (shift % 12, "major")
    assert estimate_key(histogram(TUNE_A_MINOR, shift))[:2] == ((9 + shift) % 12, "minor")


@SEEDED
@given(st.lists(st.floats(0.01, 10), min_size=12, max_size=12), st.integers(0, 11))
def test_estimate_follows_transposition(weights: list[float], shift: int):
    """Rotating a histogram by k semitones should move the estimated tonic by k, same mode."""
    w = np.array(weights)
    tonic, mode, score = estimate_key(w)
    moved = estimate_key(np.roll(w, shift))
    assert moved[:2] == ((tonic + shift) % 12, mode)
    assert moved[2] == pytest.approx(score)


def test_flat_histogram_and_bad_input():
    """Silence should give a meaningless (score 0) answer; wrong shapes or values an error."""
    assert estimate_key(np.zeros(12)) == (0, "major", 0.0)
    assert key_scores(np.ones(12)).shape == (24,)
    for bad in (np.zeros(11), np.full(12, -1.0), np.full(12, np.nan)):
        with pytest.raises(ValueError):
            estimate_key(bad)


def test_scales():
    """Major and natural minor scales should be the textbook sets; the leading tone adds G#."""
    assert scale_pitch_classes(0, "major") == {0, 2, 4, 5, 7, 9, 11}
    assert scale_pitch_classes(9, "minor") == {9, 11, 0, 2, 4, 5, 7}
    assert scale_pitch_classes(9, "minor", leading_tone=True) == {9, 11, 0, 2, 4, 5, 7, 8}
    assert scale_pitch_classes(7, "major", leading_tone=True) == {7, 9, 11, 0, 2, 4, 6}
    assert scale_pitch_classes(14, "major") == scale_pitch_classes(2, "major")
    with pytest.raises(ValueError, match="mode"):
        scale_pitch_classes(0, "dorian")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C", (0, "major")),
        ("Am", (9, "minor")),
        ("F#m", (6, "minor")),
        ("Bb", (10, "major")),
        ("Eb minor", (3, "minor")),
        ("c# min", (1, "minor")),
        ("B-", (10, "major")),
        ("DM", (2, "major")),
        ("G major", (7, "major")),
        ("  ebm ", (3, "minor")),
        ("Cb", (11, "major")),
        ("F♯m", (6, "minor")),
        ("Bbb", (9, "major")),
    ],
)
def test_parse_key(text: str, expected: tuple[int, str]):
    """Key names in the usual spellings should parse to (tonic, mode)."""
    assert parse_key(text) == expected


@pytest.mark.parametrize("text", ["", "H", "Cx", "C#b", "Am7", "C mixolydian", "A###", 5, None])
def test_parse_key_errors(text: object):
    """Anything that is not a key name should be a ValueError that shows what fits."""
    with pytest.raises(ValueError, match="expected|a key is"):
        parse_key(text)  # type: ignore[arg-type]


def test_key_name_round_trip():
    """Every one of the 24 keys should name itself in a form parse_key reads back."""
    for mode in ("major", "minor"):
        for tonic in range(12):
            assert parse_key(key_name(tonic, mode)) == (tonic, mode)
    assert key_name(6, "minor") == "F#m" and key_name(10, "major") == "Bb"


def test_tracker_needs_enough_music():
    """The tracker should answer None until min_weight_beats of notes were heard."""
    tracker = KeyTracker(min_weight_beats=4.0)
    assert tracker.key() is None and tracker.scale() is None
    tracker.add_notes(as_notes(TWINKLE_C[:2]))
    assert tracker.key() is None
    tracker.add_notes(as_notes(TWINKLE_C, start=2.0))
    assert tracker.key() == (0, "major")
    assert tracker.scale() == {0, 2, 4, 5, 7, 9, 11}
    tracker.reset()
    assert tracker.key() is None


def test_tracker_follows_a_modulation_with_decay():
    """With a half-life the key should move to the new tune's; without, old weight holds it."""
    fading, lasting = KeyTracker(half_life_beats=4.0), KeyTracker()
    for tracker in (fading, lasting):
        tracker.add_notes(as_notes(TWINKLE_C * 3))  # 48 beats in C
        assert tracker.key() == (0, "major")
        tracker.add_notes(as_notes(TWINKLE_C, transpose=3, start=48.0))  # 16 beats in Eb
    assert fading.key() == (3, "major")
    assert lasting.key() == (0, "major")


@pytest.mark.parametrize("half_life, heard", [(PLAY_HALF_LIFE_BEATS, "F"), (32.0, "C")])
def test_play_tracker_hears_each_call_of_a_modulating_session(half_life, heard):
    """With play's half-life, when a call ends the tracker names that call's key, the F call
    after C and G included; twice that half-life still hears C there."""
    tracker = KeyTracker(half_life_beats=half_life)
    notes, named = modulating_session(), []
    for i in range(len(MODULATING_CALLS)):
        tracker.add_notes(notes[8 * i : 8 * (i + 1)])
        named.append(key_name(*tracker.key()))
    assert named == ["C", "G", heard, "Dm"]


def test_tracker_keeps_its_key_within_the_margin():
    """A lead of less than switch_margin should not flip the answer from C major to A minor."""
    answers = {}
    for margin in (0.0, 0.2):
        tracker = KeyTracker(switch_margin=margin)
        tracker.add_notes(as_notes(TWINKLE_C))
        assert tracker.key() == (0, "major")
        for pitch, beats in TUNE_A_MINOR:
            if pitch % 12 != 8:  # the natural-minor part of the tune: C major's notes
                tracker.add(pitch, beats)
        answers[margin] = tracker.key()
    assert answers == {0.0: (9, "minor"), 0.2: (0, "major")}


def test_tracker_clock_never_goes_back():
    """advance() to an earlier beat should change nothing."""
    tracker = KeyTracker(half_life_beats=1.0)
    tracker.advance(10.0)
    tracker.add(60, 4.0)
    tracker.advance(5.0)
    assert tracker.beat == 10.0 and tracker.weights[0] == 4.0
    tracker.advance(11.0)
    assert tracker.weights[0] == pytest.approx(2.0)
