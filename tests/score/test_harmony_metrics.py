"""`rtgen score --harmony`'s measures (rtgen/score/harmony.py), on hand-made answers, and the
command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rtgen.engine.chords import read_chord
from rtgen.events import Note
from rtgen.score.harmony import after_changes, harmony_ratio
from rtgen.score.harmonyset import ChordSpan

C = ChordSpan(0.0, 4.0, (48, 52, 55), read_chord([48, 52, 55]))  # C, beats 0..4
F = ChordSpan(4.0, 8.0, (41, 45, 48), read_chord([41, 45, 48]))  # F, beats 4..8


def test_harmony_ratio_weighs_by_duration_and_counts_the_beats_apart() -> None:
    """E (in C) for two beats on the beat, D (not in C) for half a beat off it: 2 / 2.5
    overall, 1.0 on the beats; A (in F) on beat 5 after the change counts under F."""
    notes = [Note(0.0, 2.0, 64), Note(2.5, 3.0, 62), Note(5.0, 6.0, 69)]
    ratio = harmony_ratio(notes, (C, F))
    assert ratio["overall"] == pytest.approx(3.0 / 3.5)
    assert ratio["strong"] == pytest.approx(1.0)
    assert harmony_ratio([], (C, F)) == {"overall": None, "strong": None}


def test_the_first_note_a_grid_step_after_a_change_is_judged_by_the_new_chord() -> None:
    """A note on the change's own step was planned before it: the first one from a grid
    step later is judged (B is not in F; C is)."""
    on_change = [Note(1.0, 2.0, 60), Note(4.0, 4.5, 71), Note(4.5, 5.0, 60), Note(6.0, 7.0, 65)]
    assert after_changes(on_change, (C, F)) == [True]
    wrong = [Note(1.0, 2.0, 60), Note(4.5, 5.0, 71), Note(6.0, 7.0, 65)]
    assert after_changes(wrong, (C, F)) == [False]
    assert after_changes([Note(5.0, 6.0, 65)], (C, F)) == []  # no answer across the change


def test_rtgen_score_harmony_prints_steering_on_and_off() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "rtgen", "score", "--harmony", "--seeds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    on, off = out["steering"]["on"], out["steering"]["off"]
    assert out["items"] == 48 and on["harmony_strong"] > off["harmony_strong"] + 0.2
    bad = subprocess.run(
        [sys.executable, "-m", "rtgen", "score", "--harmony", "--strength", "99"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--strength" in bad.stderr
