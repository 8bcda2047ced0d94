"""The session memory: what the player played, as variable-order Markov models (docs/manner.md).

    mem = Memory()
    mem.learn(pitches=[60, 62, 64, 60], gaps=[6, 6, 12])  # one phrase: its line and rhythm
    mem.interval_probs((2, 2))   # (25,) P(next interval -12..+12 | the last intervals)
    mem.gap_probs((6, 6))        # (49,) P(next inter-onset gap 0..48 steps | the last gaps)
    mem.save(path); Memory.load(path)

As Pachet's Continuator: each phrase the player plays is added to two prefix tables, one over
its transposition-free intervals (clipped to +-12 semitones) and one over its inter-onset
gaps (grid steps, clipped to 48), every context of length 0..``order`` counted with what
followed it. A prediction blends the contexts that match the end of what was played, longer
ones weighing ``LONGER`` times more each, so a motif the player repeated is echoed, and a
context never heard falls back to shorter ones (in the end to the plain interval counts).

The memory grows over the jam (the tenth answer knows more than the first), up to
``max_phrases`` (the oldest phrase is forgotten first), and is saved and loaded as JSON (the
phrases; the tables are rebuilt from them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtgen.engine.manner import MAX_GAP  # gaps are clipped as the manner clips them (4 beats)

MAX_INTERVAL = 12  # intervals are clipped to +-12 semitones: 25 symbols
LONGER = 4.0  # a context one symbol longer weighs this much more in a prediction
FORMAT = "rtgen-memory-1"


class _Table:
    """Counts of what followed every context of length 0..order in the sequences added."""

    def __init__(self, order: int, size: int) -> None:
        self.order, self.size = order, size
        self.counts: dict[tuple[int, ...], Counter] = {}
        self._cache: dict[tuple[int, ...], np.ndarray | None] = {}

    def add(self, seq: Sequence[int], sign: int = 1) -> None:
        for i, sym in enumerate(seq):
            for k in range(min(self.order, i) + 1):
                ctx = tuple(seq[i - k : i])
                c = self.counts.setdefault(ctx, Counter())
                c[sym] += sign
                if c[sym] <= 0:
                    del c[sym]
                    if not c:
                        del self.counts[ctx]
        self._cache.clear()

    def probs(self, context: Sequence[int]) -> np.ndarray | None:
        """(size,) the blend over the matching contexts, or None with nothing learned."""
        ctx = tuple(context[len(context) - self.order :]) if self.order else ()
        if ctx in self._cache:
            return self._cache[ctx]
        out = np.zeros(self.size)
        weight = 1.0
        for k in range(len(ctx) + 1):
            c = self.counts.get(ctx[len(ctx) - k :])
            if c:
                total = sum(c.values())
                for sym, n in c.items():
                    out[sym] += weight * n / total
            weight *= LONGER
        result = out / out.sum() if out.sum() > 0 else None
        self._cache[ctx] = result
        return result


class Memory:
    """The player's phrases and the two tables built from them (module docstring)."""

    def __init__(self, order: int = 4, max_phrases: int = 256) -> None:
        if order < 0 or max_phrases < 1:
            raise ValueError(f"need order >= 0 and max_phrases >= 1: {order}, {max_phrases}")
        self.order, self.max_phrases = order, max_phrases
        self.phrases: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # (intervals, gaps)
        self._intervals = _Table(order, 2 * MAX_INTERVAL + 1)
        self._gaps = _Table(order, MAX_GAP + 1)

    @property
    def notes(self) -> int:
        """How much the memory holds: the intervals of every phrase it keeps."""
        return sum(len(iv) for iv, _ in self.phrases)

    def learn(self, pitches: Sequence[int], gaps: Sequence[int]) -> bool:
        """Add one phrase: the pitches of its line, and the gaps between its onsets in grid
        steps. A phrase of fewer than two notes teaches nothing (False)."""
        if len(pitches) < 2:
            return False
        intervals = tuple(interval_symbol(b - a) for a, b in zip(pitches, pitches[1:]))
        rhythm = tuple(min(max(int(g), 1), MAX_GAP) for g in gaps)
        self._add(intervals, rhythm)
        while len(self.phrases) > self.max_phrases:
            self._remove(0)
        return True

    def forget_last(self) -> None:
        """Take the last phrase back out (it was only the first part of a call that went on)."""
        if self.phrases:
            self._remove(len(self.phrases) - 1)

    def _remove(self, index: int) -> None:
        intervals, gaps = self.phrases.pop(index)
        self._intervals.add(intervals, -1)
        self._gaps.add(gaps, -1)

    def _add(self, intervals: tuple[int, ...], gaps: tuple[int, ...]) -> None:
        self.phrases.append((intervals, gaps))
        self._intervals.add(intervals)
        self._gaps.add(gaps)

    def reset(self) -> None:
        """Forget everything (a CC action)."""
        self.phrases = []
        self._intervals = _Table(self.order, 2 * MAX_INTERVAL + 1)
        self._gaps = _Table(self.order, MAX_GAP + 1)

    def interval_probs(self, last_intervals: Sequence[int]) -> np.ndarray | None:
        """(25,) P(next interval = i - 12) after ``last_intervals`` (semitones), or None."""
        return self._intervals.probs([interval_symbol(i) for i in last_intervals])

    def gap_probs(self, last_gaps: Sequence[int]) -> np.ndarray | None:
        """(49,) P(next gap = g steps) after ``last_gaps`` (steps), or None."""
        return self._gaps.probs([min(max(int(g), 1), MAX_GAP) for g in last_gaps])

    # --- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "order": self.order,
            "max_phrases": self.max_phrases,
            "phrases": [[list(iv), list(g)] for iv, g in self.phrases],
        }

    @classmethod
    def from_dict(cls, doc: dict) -> Memory:
        """The memory ``to_dict`` described; ValueError if it is not one."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not an rtgen memory (no '{FORMAT}' format)")
        mem = cls(int(doc.get("order", 4)), int(doc.get("max_phrases", 256)))
        for iv, gaps in doc.get("phrases", [])[-mem.max_phrases :]:
            symbols = tuple(int(s) for s in iv)
            rhythm = tuple(int(g) for g in gaps)
            if not all(0 <= s <= 2 * MAX_INTERVAL for s in symbols) or not all(
                1 <= g <= MAX_GAP for g in rhythm
            ):
                raise ValueError("a phrase holds an interval or gap out of range")
            mem._add(symbols, rhythm)
        return mem

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Memory:
        """A saved memory; OSError or ValueError (not JSON, not a memory) if it cannot be."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc})") from None
        return cls.from_dict(doc)


def interval_symbol(interval: int) -> int:
    """An interval in semitones as a table symbol 0..24 (clipped to +-12)."""
    return min(max(int(interval), -MAX_INTERVAL), MAX_INTERVAL) + MAX_INTERVAL
