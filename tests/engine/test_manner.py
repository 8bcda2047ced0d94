"""A call's manner from hand-made calls: texture, density, register, rhythm and dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen.engine.manner import estimate_manner, snap_onsets
from rtgen.events import Note


def _line(starts: list[float], length: float = 0.45, pitch: int = 60) -> list[Note]:
    return [Note(s, s + length, pitch + i % 5, 80) for i, s in enumerate(starts)]


def test_no_notes_no_manner() -> None:
    """An empty call has no manner."""
    assert estimate_manner([]) is None


def test_a_humanised_legato_line_is_a_single_line_and_chords_are_chords() -> None:
    """A line whose notes overlap by 40 ms (legato played by a person) has one voice; three
    notes struck together (spread by a few ms) on every beat have three."""
    line = [Note(i * 0.5, i * 0.5 + 0.58, 60 + i % 7) for i in range(16)]
    assert estimate_manner(line).voices == 1
    chords = [Note(b + 0.004 * k, b + 0.9, p) for b in range(8) for k, p in enumerate((60, 64, 67))]
    assert estimate_manner(chords).voices == 3


def test_one_passing_chord_does_not_make_a_chordal_call() -> None:
    """A line of 16 notes with one two-note chord is still a line."""
    line = _line([i * 0.5 for i in range(16)]) + [Note(2.0, 2.4, 55)]
    assert estimate_manner(line).voices == 1


def test_density_counts_notes_over_whole_bars() -> None:
    """8 notes in 7.5 beats: 8 / 8 beats (two bars) = 1 a beat; 3 notes in a bar: 0.75."""
    assert estimate_manner(_line([i for i in range(8)], 0.9)).notes_per_beat == 1.0
    m = estimate_manner(_line([0, 1, 2], 0.9))
    assert (m.notes_per_beat, m.beats) == (0.75, 4.0)


def test_register_is_the_range_and_the_mean() -> None:
    """A bass line at 40..47 has that range and a mean of 43.5."""
    m = estimate_manner([Note(i, i + 1, 40 + i) for i in range(8)])
    assert (m.low, m.high, m.mean_pitch) == (40, 47, 43.5)


def test_swung_eighths_played_by_hand_are_a_triplet_grid() -> None:
    """Swung 8ths (the off-beat at 2/3) with 20 ms jitter at 120 BPM snap to steps 0 and 8
    of the beat; straight 8ths with the same jitter to 0 and 6."""
    rng = np.random.default_rng(0)
    jitter = rng.normal(0, 0.04, 16)  # beats: 20 ms at 120 BPM
    swung = [b + off for b in range(8) for off in (0.0, 2 / 3)]
    steps, grid = snap_onsets(np.array(swung) + jitter)
    assert grid == "triplet" and set(steps % 12) == {0, 8}
    straight = [b + off for b in range(8) for off in (0.0, 0.5)]
    steps, grid = snap_onsets(np.array(straight) + jitter)
    assert grid == "straight" and set(steps % 12) == {0, 6}
    m = estimate_manner(_line(list(np.array(swung) + jitter), 0.3))
    assert m.grid == "triplet" and m.positions[8] == pytest.approx(0.5)
    assert set(m.gaps) == {4, 8}


def test_lengths_and_line() -> None:
    """Note lengths in grid steps and the line's pitches, in order."""
    m = estimate_manner([Note(0, 0.5, 60), Note(1, 1.25, 64), Note(2, 3, 62)])
    assert m.lengths == (6, 3, 12) and m.line == (60, 64, 62) and m.onsets == (0, 12, 24)


def test_dynamics_level_and_contour() -> None:
    """A crescendo from 40 to 110: the mean is 75, the contour rises part by part."""
    notes = [Note(i, i + 0.9, 60, 40 + 10 * i) for i in range(8)]
    m = estimate_manner(notes)
    assert m.velocity == 75.0
    assert list(m.contour) == sorted(m.contour) and m.contour[0] < 60 < 90 < m.contour[-1]
    assert m.velocity_at(0.0) < m.velocity_at(0.5) < m.velocity_at(1.0)
