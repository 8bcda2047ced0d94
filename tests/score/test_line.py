"""The melodic line: the highest sounding note at each moment."""

from __future__ import annotations

from rtgen.score.line import melodic_line
from tests.score.helpers import line, notes


def test_a_single_line_is_unchanged() -> None:
    """A monophonic part is its own line."""
    mono = line(60, 62, 64, 62)
    assert melodic_line(mono) == mono


def test_a_chord_gives_its_top_note() -> None:
    """Of a chord, only the highest note is in the line."""
    chord = notes((0, 1, 60), (0, 1, 64), (0, 1, 67), (1, 2, 65))
    assert [(n.start, n.end, n.pitch) for n in melodic_line(chord)] == [(0, 1, 67), (1, 2, 65)]


def test_a_held_low_note_enters_where_the_top_ends() -> None:
    """A held bass under a short melody note is the line before and after it."""
    part = notes((0, 4, 48), (1, 2, 72))
    got = [(n.start, n.end, n.pitch) for n in melodic_line(part)]
    assert got == [(0, 1, 48), (1, 2, 72), (2, 4, 48)]


def test_a_repeated_pitch_stays_two_notes_and_a_held_one_stays_one() -> None:
    """Two struck notes of one pitch stay two; a note is not split by a lower note's onset."""
    part = notes((0, 1, 60), (1, 2, 60), (0, 2, 55), (0.5, 1.5, 52))
    got = [(n.start, n.end, n.pitch) for n in melodic_line(part)]
    assert got == [(0, 1, 60), (1, 2, 60)]
