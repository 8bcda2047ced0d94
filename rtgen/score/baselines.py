"""The baselines that need no model: the call itself (copy) and random-in-key.

The n-gram baseline is an engine answer (answers.py) from rtgen.ngram.NGramSession; the
truth is the call's true continuation (calls.py).
"""

from __future__ import annotations

import numpy as np

from rtgen.events import Note, Role
from rtgen.score.calls import WINDOW_BEATS
from rtgen.score.metrics import call_scale

SLOTS = int(WINDOW_BEATS * 4)  # the 16ths of the window
MAX_BEATS = 1.0  # a random note lasts until the next onset, a beat at most


def copy_answer(call: tuple[Note, ...] | list[Note]) -> list[Note]:
    """The call itself, played again from the answer's first beat."""
    return list(call)


def random_in_key(call: tuple[Note, ...] | list[Note], seed: int, index: int) -> list[Note]:
    """The call's note count (at most one a 16th), pitches drawn from the call's scale
    within its range +-2 semitones, onsets on distinct random 16ths; seeded by (seed, index)."""
    rng = np.random.default_rng((seed, index))
    pitches = [n.pitch for n in call]
    scale = call_scale(call)
    pool = [p for p in range(min(pitches) - 2, max(pitches) + 3) if p % 12 in scale]
    count = min(len(call), SLOTS)
    slots = np.sort(rng.choice(SLOTS, size=count, replace=False))
    starts = [int(s) / 4 for s in slots]
    ends = [*starts[1:], WINDOW_BEATS]
    return [
        Note(s, min(e, s + MAX_BEATS), int(rng.choice(pool)), 80, Role.MODEL)
        for s, e in zip(starts, ends)
    ]
