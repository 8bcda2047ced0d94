"""The call's feel: the answer plays with the player's timing, not on a machine's grid.

The model plans on the 12-steps-a-beat grid, and the manner snaps the call's onsets to it
(manner.py): that keeps the player's rhythmic vocabulary. What snapping throws away is how
the player's hands sat around the grid: a little ahead, behind, loose. A musician answering
plays with that same feel. ``Feel`` keeps the call's deviations (raw onset minus snapped
onset, in grid steps) and gives each onset the answer plays one of them, drawn at random
(a bootstrap of the call's own timing, scaled by ``strength``):

    feel = Feel.of(manner.deviations, strength=1.0, seed=7)
    offset = feel.offset(step)    # grid steps to move the onset at ``step`` (same step: same)

The model's tokens stay on the grid (its state is what it planned); only the times the notes
are sent move, note-on and note-off together, so a note keeps its length. The draw is a pure
function of (seed, step): a chord moves as one, a replay repeats it, a re-plan agrees.

A call whose onsets keep one phase to the 12-steps-a-beat grid, within ``MACHINE_STEPS``, was
played by a sequencer (or a test, or a player's sequencer on a clock of its own, a constant
few ms off rtgen's beat): the answer then plays on the grid exactly, as before. Off the
snapped grid but on a grid step, as a sequenced 32nd or quintuplet is, is not a hand either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MACHINE_STEPS = 0.1  # spread of the phase to the grid below this (4 ms at 120 BPM): no feel
MAX_STEPS = 1.0  # an offset never moves an onset further than one grid step
NEIGHBOUR_SHARE = 0.45  # nor more than this share of the gap to a neighbouring onset


class Feel:
    """Offsets for the answer's onsets, drawn from the call's deviations."""

    def __init__(self, deviations: np.ndarray, seed: int) -> None:
        self._dev = deviations
        self._seed = seed
        self._drawn: dict[int, float] = {}  # step -> offset: the planner asks for an onset's
        # step twice (its note-on, and a note-off ending there); a Generator costs ~15 us

    @classmethod
    def of(cls, deviations: Sequence[float], strength: float, seed: int | None) -> Feel | None:
        """The feel of a call with these deviations (steps), or None when the answer plays on
        the grid (strength 0, no deviations, or a machine-timed call)."""
        dev = np.asarray(deviations, dtype=np.float64)
        if strength <= 0 or dev.size == 0:
            return None
        if phase_spread(dev) < MACHINE_STEPS:  # a sequencer's
            return None
        dev = np.clip(dev * strength, -MAX_STEPS, MAX_STEPS)
        if seed is None:  # unseeded play: fresh entropy once, then the same rule
            seed = int(np.random.default_rng().integers(2**31))
        return cls(dev, seed)

    def offset(self, step: int) -> float:
        """Grid steps to move the onset planned at ``step`` (a pure function of seed and step)."""
        d = self._drawn.get(step)
        if d is None:
            rng = np.random.default_rng((self._seed, step & 0x7FFFFFFF))
            d = self._drawn[step] = float(self._dev[rng.integers(self._dev.size)])
        return d


def phase_spread(deviations: np.ndarray) -> float:
    """Circular standard deviation (grid steps) of where onsets fall within a grid step: 0
    for onsets at one phase to the grid, whatever the phase (a wrap at half a step is no
    spread), about 0.3 for onsets anywhere."""
    z = np.exp(2j * np.pi * deviations).mean()
    r = min(max(abs(z), 1e-12), 1.0)
    return float(np.sqrt(-2.0 * np.log(r)) / (2 * np.pi))


def spaced(onsets: Sequence[int], offsets: Sequence[float]) -> list[float]:
    """``offsets`` for the sorted distinct grid ``onsets``, each kept within NEIGHBOUR_SHARE of
    the gap to the onsets beside it, so moved onsets never meet or swap."""
    out = []
    for i, (s, d) in enumerate(zip(onsets, offsets)):
        room = MAX_STEPS
        if i > 0:
            room = min(room, NEIGHBOUR_SHARE * (s - onsets[i - 1]))
        if i + 1 < len(onsets):
            room = min(room, NEIGHBOUR_SHARE * (onsets[i + 1] - s))
        out.append(float(np.clip(d, -room, room)))
    return out
