"""The call's ornaments, given to the answer: grace notes where the player played them.

A player who flicks into notes from a crushed grace note (or whose rolled chords reach the
melody a moment after a lower note, as the melodic line hears them) is answered the same
way: the manner counts the call's grace notes (manner.py: ``graces``, ``grace_rate``), and
``Ornament`` decides, for each onset the answer plays, whether it gets one and from which
interval, drawn from the call's own:

    ornament = Ornament.of(manner, strength=1.0, seed=7)   # None: the call had none
    interval = ornament.grace(step)   # None, or grace pitch minus main pitch

The draw is a pure function of (seed, step), as the feel's is: a replay repeats it and a
re-plan agrees. The planner sends the grace note one grid step (at most ``LEAD_MS``) before
its main note, ending as it starts; the model never hears it (it plans the line, as it
does under the feel), and notes still sounding then end as the grace starts, so the line
stays a line.
"""

from __future__ import annotations

import numpy as np

from rtgen.engine.manner import Manner

LEAD_MS = 70.0  # a grace note leads its note by one grid step, but never by more than this
MIN_GAP_STEPS = 2  # room for a grace: the previous onset at least this many steps before
SOFTER = 0.8  # a grace note's velocity, as a share of its main note's


class Ornament:
    """Which onsets of an answer get a grace note, and from where."""

    def __init__(self, intervals: tuple[int, ...], rate: float, seed: int) -> None:
        self._intervals, self._rate, self._seed = intervals, rate, seed

    @classmethod
    def of(cls, manner: Manner, strength: float, seed: int | None) -> Ornament | None:
        """The ornaments of a call with this manner at ``strength`` (a share of its rate),
        or None when the answer gets none (strength 0, or no grace notes in the call)."""
        if strength <= 0 or not manner.graces:
            return None
        if seed is None:  # unseeded play: fresh entropy once, then the same rule
            seed = int(np.random.default_rng().integers(2**31))
        return cls(manner.graces, min(manner.grace_rate * strength, 1.0), seed)

    def grace(self, step: int) -> int | None:
        """Grace pitch minus main pitch for the onset planned at ``step``, or None."""
        rng = np.random.default_rng((self._seed, step & 0x7FFFFFFF, 1))
        if rng.random() >= self._rate:
            return None
        return self._intervals[int(rng.integers(len(self._intervals)))]
