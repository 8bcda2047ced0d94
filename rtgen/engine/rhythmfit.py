"""How far a candidate's rhythm is from the call's: the second thing best-of-N weighs.

The critic judges whether a continuation sounds like a real one; among candidates it finds
about as real, the one whose rhythm is most like the call's answers in the call's rhythmic
vocabulary (docs/manner.md). Rhythm here is two histograms: the gaps between onsets (in
grid steps, up to 4 beats) and where onsets fall within the beat (12 steps). A swung call
(onsets on steps 0 and 8, gaps of 8 and 4) thus favours the candidate that swings. Both
sides on the grid: the call's onsets snapped as the manner snaps them (straight or
triplet), the candidates' as planned (the feel moves them only when they are sent).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtgen import tokens as T
from rtgen.engine.manner import MAX_GAP, snap_onsets
from rtgen.events import Note

G = T.GRID_STEPS_PER_BEAT
# The pick's weight per unit of the rhythm strength (--rhythm), against the critic's
# score (whose spread over 4 candidates is about 1 logit): set on the validation calls
# (docs/manner.md); at 5 the rhythm decides unless the critic is sure.
PICK_WEIGHT = 5.0


def _normalised(counts: np.ndarray) -> np.ndarray:
    return counts / counts.sum()


def gap_histogram(onsets: np.ndarray) -> np.ndarray | None:
    """(MAX_GAP + 1,) share of each gap between distinct onsets (steps, sorted; gaps past
    4 beats count as 4 beats); None under two onsets. rtgen score's inter-onset histogram."""
    if len(onsets) < 2:
        return None
    return _normalised(np.bincount(np.minimum(np.diff(onsets), MAX_GAP), minlength=MAX_GAP + 1))


def position_histogram(onsets: np.ndarray) -> np.ndarray | None:
    """(G,) share of distinct onsets on each step of the beat; None without onsets."""
    if len(onsets) == 0:
        return None
    return _normalised(np.bincount(onsets % G, minlength=G))


def _distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    return 0.0 if a is None or b is None else float(np.abs(a - b).sum())


class RhythmFit:
    """The call's rhythm; ``distance`` of a candidate's onsets to it (0..4)."""

    def __init__(self, call: Sequence[Note]) -> None:
        starts = np.array(sorted(n.start for n in call), dtype=np.float64)
        on = np.unique(snap_onsets(starts)[0]) if len(starts) else np.zeros(0, np.int64)
        self.gaps, self.positions = gap_histogram(on), position_histogram(on)

    def distance(self, steps: Sequence[int]) -> float:
        """L1 of the gap histograms plus L1 of the position histograms of the call and of
        onsets at grid ``steps`` (beat-aligned as the call); a histogram either side
        lacks counts 0 (nothing to tell candidates apart by)."""
        on = np.unique(np.asarray(steps, dtype=np.int64))
        return _distance(gap_histogram(on), self.gaps) + _distance(
            position_histogram(on), self.positions
        )
