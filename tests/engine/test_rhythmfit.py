"""The call's rhythm as best-of-N's second criterion (rtgen/engine/rhythmfit.py)."""

from __future__ import annotations

from rtgen.engine.rhythmfit import RhythmFit
from rtgen.events import Note

SWUNG = [0, 8, 12, 20, 24, 32, 36, 44]  # swung 8ths: steps 0 and 8 of each beat
STRAIGHT = [0, 6, 12, 18, 24, 30, 36, 42]


def _notes(steps: list[int], jitter: float = 0.0) -> list[Note]:
    return [
        Note(s / 12 + (jitter if i % 2 else -jitter), s / 12 + 0.3, 60) for i, s in enumerate(steps)
    ]


def test_the_same_rhythm_is_no_distance_and_another_is_some() -> None:
    fit = RhythmFit(_notes(SWUNG))
    assert fit.distance(SWUNG) == 0.0
    assert fit.distance([s + 48 for s in SWUNG]) == 0.0  # a bar later: the same rhythm
    assert fit.distance(STRAIGHT) > 1.5  # no gap and half the positions in common


def test_a_played_call_is_heard_on_its_grid() -> None:
    """A swung call played a little loosely (15 ms at 120 BPM) is still swung 8ths."""
    fit = RhythmFit(_notes(SWUNG, jitter=0.03))
    assert fit.distance(SWUNG) == 0.0
    assert fit.distance(SWUNG[:5]) < fit.distance(STRAIGHT[:5])


def test_position_in_the_beat_counts_as_well_as_gaps() -> None:
    """Quarter notes on the beat and quarter notes on the 'and' share every gap."""
    fit = RhythmFit(_notes([0, 12, 24, 36]))
    assert fit.distance([6, 18, 30, 42]) == 2.0
    assert fit.distance([0, 12, 24, 36]) == 0.0


def test_too_few_onsets_to_tell_candidates_apart() -> None:
    assert RhythmFit([]).distance(SWUNG) == 0.0
    fit = RhythmFit(_notes(SWUNG))
    assert fit.distance([]) == 0.0
    # one onset: no gap to compare, but where it falls in the beat still counts
    assert fit.distance([8]) == 1.0 and fit.distance([6]) == 2.0
