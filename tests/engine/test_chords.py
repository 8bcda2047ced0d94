"""Reading a held chord (rtgen/engine/chords.py): triads, sevenths, inversions, a lone bass
note, extensions and clusters, as a left hand plays them."""

from __future__ import annotations

import pytest

from rtgen.engine.chords import read_chord


@pytest.mark.parametrize(
    ("pitches", "name", "tones"),
    [
        ([48, 52, 55], "C", {0, 4, 7}),  # C major, root position
        ([57, 60, 64], "Am", {9, 0, 4}),
        ([47, 50, 53], "Bdim", {11, 2, 5}),
        ([48, 52, 56], "Caug", {0, 4, 8}),
        ([50, 55, 57], "Dsus4", {2, 7, 9}),
    ],
)
def test_triads(pitches: list[int], name: str, tones: set[int]) -> None:
    chord = read_chord(pitches)
    assert chord.name == name and chord.tones == frozenset(tones)


@pytest.mark.parametrize(
    ("pitches", "name"),
    [
        ([43, 47, 50, 53], "G7"),
        ([50, 53, 57, 60], "Dm7"),
        ([48, 52, 55, 59], "Cmaj7"),
        ([47, 50, 53, 57], "Bm7b5"),
        ([47, 50, 53, 56], "Bdim7"),
        ([48, 52, 55, 57], "C6"),  # the same notes as Am7: the bass says C6
        ([45, 48, 52, 55], "Am7"),
    ],
)
def test_sevenths_and_sixths(pitches: list[int], name: str) -> None:
    assert read_chord(pitches).name == name


def test_an_inversion_is_the_same_chord() -> None:
    """C major with E, then G, in the bass, and spread over two octaves: C each time."""
    root = read_chord([48, 52, 55])
    for voicing in ([52, 55, 60], [55, 60, 64], [40, 55, 60, 72]):
        chord = read_chord(voicing)
        assert (chord.root, chord.quality, chord.tones) == (root.root, root.quality, root.tones)
    assert read_chord([53, 55, 59, 62]).name == "G7"  # third inversion: F in the bass


def test_a_lone_bass_note_is_its_root_and_fifth() -> None:
    for pitches in ([36], [36, 48]):  # a note, or its octave
        chord = read_chord(pitches)
        assert chord.root == 0 and chord.tones == frozenset({0, 7}) and chord.name == "C5"


def test_two_notes_a_third_apart_imply_the_triad() -> None:
    assert read_chord([48, 52]).name == "C" and read_chord([48, 51]).name == "Cm"


def test_extensions_are_named_and_kept_as_tones() -> None:
    chord = read_chord([48, 52, 55, 58, 61])  # C7 with a flat nine
    assert chord.name == "C7(b9)" and 1 in chord.tones
    assert read_chord([43, 47, 50, 53, 57]).name == "G9"


def test_a_cluster_is_its_own_notes() -> None:
    for pitches in ([60, 61, 62, 63], [48, 49, 50]):
        chord = read_chord(pitches)
        assert chord.quality == "cluster" and chord.tones == frozenset(p % 12 for p in pitches)
        assert chord.name.endswith("cluster")


def test_nothing_held_is_no_chord() -> None:
    assert read_chord([]) is None
