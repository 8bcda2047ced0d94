"""Steering an answer: the call's manner (bias.py) and the session memory (memory.py) applied
to the model's logits before the sampler draws (docs/manner.md).

    steer = Steer(SteerConfig(Strengths(texture=4), memory=0.3), Memory())
    steer.begin(manner, start_step=beat * 12, steps=8 * 12)   # when an answer starts
    tok = sampler.sample(steer.adjust(logits, gen), gen)      # per token (the planner)

``adjust`` returns new logits (the planner keeps the model's own for its resume point). The
memory is mixed in per token group, as a mixture of distributions: within the NOTE_ONs,
P(pitch) = (1 - w) P_model(pitch | NOTE_ON) + w P_memory(interval = pitch - last pitch),
and within the SHIFTs the same with the memory's next inter-onset gap, so the group's total
(whether to play, to wait or to end a note) stays the model's and the manner's. The context
is the end of the call's line followed by the answer's own notes. The mixture is taken at
temperature 1 (the sampler divides by its temperature after; 0.9 by default, close enough).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgen import tokens as T
from rtgen.engine.bias import MannerBias, Strengths
from rtgen.engine.manner import Manner
from rtgen.engine.memory import MAX_INTERVAL, Memory
from rtgen.engine.sampler import GenState

ON = slice(T.NOTE_ON_BASE, T.NOTE_ON_BASE + 128)
SHIFT = slice(T.SHIFT_BASE, T.SHIFT_BASE + T.MAX_SHIFT)
CONTEXT = 8  # symbols of context handed to the memory (it uses its own order of them)


@dataclass(frozen=True)
class SteerConfig:
    strengths: Strengths = Strengths()
    memory: float = 0.0  # weight of the memory in the mixture, 0..1 (0 = off)
    feel: float = 0.0  # the call's timing given to the answer's notes (feel.py; 0 = the grid)
    ornament: float = 0.0  # the call's grace notes given to the answer (ornament.py; 0 = none)

    def __post_init__(self) -> None:
        if not 0 <= self.memory <= 1:
            raise ValueError(f"memory weight must be in [0, 1], got {self.memory}")
        if not 0 <= self.feel <= 1:
            raise ValueError(f"feel must be in [0, 1], got {self.feel}")
        if not 0 <= self.ornament <= 1:
            raise ValueError(f"ornament must be in [0, 1], got {self.ornament}")


class Steer:
    """One answer's bias and memory context; ``adjust`` is the one call per token."""

    def __init__(self, cfg: SteerConfig, memory: Memory | None = None) -> None:
        self.cfg, self.memory = cfg, memory
        self._bias: MannerBias | None = None
        self._scale: frozenset[int] | None = None
        self._start = 0
        self._start_ons: int | None = None  # model note-ons before the answer (first token)
        self._call_pitches: tuple[int, ...] = ()
        self._call_gaps: tuple[int, ...] = ()
        self._pitch_cache: dict = {}
        self._gap_cache: dict = {}

    def begin(self, manner: Manner | None, start_step: int, steps: int) -> None:
        """An answer starts at ``start_step`` and lasts ``steps``: steer it by ``manner``
        (None: the model plays unsteered)."""
        self._start, self._start_ons = start_step, None
        self._pitch_cache: dict = {}  # the answer's notes so far -> (128,) or None
        self._gap_cache: dict = {}  # (those, steps since the last) -> (48,) or None
        if manner is None:
            self._bias, self._call_pitches, self._call_gaps = None, (), ()
            return
        self._bias = MannerBias(manner, self.cfg.strengths, start_step, steps)
        self._bias.set_scale(self._scale)
        self._call_pitches = manner.line[-CONTEXT - 1 :]
        self._call_gaps = manner.gaps[-CONTEXT:]

    def set_scale(self, scale: frozenset[int] | None) -> None:
        """The key as a preference (the player's estimated key, or --key)."""
        self._scale = scale
        if self._bias is not None:
            self._bias.set_scale(scale)

    def adjust(self, logits: np.ndarray, gen: GenState) -> np.ndarray:
        """(vocab,) the logits to draw from: the model's plus the manner's and the memory's."""
        if self._bias is None:
            return logits
        z = np.array(logits, dtype=np.float64).reshape(-1)  # a copy: the planner keeps its own
        if self._start_ons is None:
            self._start_ons = gen.ons
        self._bias.apply(z, gen, gen.ons - self._start_ons)
        w = self.cfg.memory
        if w > 0 and self.memory is not None:
            self._mix_memory(z, gen, w)
        return z

    def _mix_memory(self, z: np.ndarray, gen: GenState, w: float) -> None:
        """Mix the memory's next interval into NOTE_ON and its next gap into SHIFT, in place.
        The memory's (128,) and (48,) vectors depend on the notes so far only: cached until
        the next note (most tokens between two notes are SHIFTs and NOTE_OFFs)."""
        own = tuple((s, p) for s, p in gen.recent if s >= self._start)
        struck_now = bool(own) and own[-1][0] == gen.step  # a chord note is no next interval
        if not struck_now:
            m = self._pitch_cache.get(own)
            if m is None:
                m = self._pitch_cache[own] = self._next_pitch(own)
            if m is not None:
                z[ON] = _mixed(z[ON], m, w)
        if own:
            since = min(gen.step - own[-1][0], T.MAX_SHIFT - 1)  # SHIFT(k) lands at since + k
            key = (own, since)
            m = self._gap_cache.get(key, False)
            if m is False:
                m = self._gap_cache[key] = self._next_gap(own, since)
            if m is not None:
                z[SHIFT] = _mixed(z[SHIFT], m, w)

    def _next_pitch(self, own: tuple[tuple[int, int], ...]) -> np.ndarray | None:
        """(128,) the memory's next pitch after the call's line and the answer's notes."""
        pitches = self._call_pitches + tuple(p for _, p in own)
        if not pitches:
            return None
        last = pitches[-CONTEXT - 1 :]
        probs = self.memory.interval_probs([b - a for a, b in zip(last, last[1:])])
        return None if probs is None else _interval_to_pitch(probs, pitches[-1])

    def _next_gap(self, own: tuple[tuple[int, int], ...], since: int) -> np.ndarray | None:
        """(48,) the memory's P(SHIFT k): its next inter-onset gap, given ``since`` steps
        have passed since the answer's last onset."""
        steps = [s for s, _ in own]
        gaps = self._call_gaps + tuple(b - a for a, b in zip(steps, steps[1:]))
        probs = self.memory.gap_probs(gaps[-CONTEXT:])
        if probs is None:
            return None
        m = np.zeros(T.MAX_SHIFT)
        k_max = T.MAX_SHIFT - since
        m[:k_max] = probs[since + 1 : since + 1 + k_max]
        total = m.sum()
        return m / total if total > 0 else None


def _interval_to_pitch(probs: np.ndarray, last: int) -> np.ndarray:
    """(128,) P(pitch) from (25,) P(interval -12..12) after ``last`` (off the keyboard: 0)."""
    out = np.zeros(128)
    lo, hi = last - MAX_INTERVAL, last + MAX_INTERVAL + 1
    a, b = max(lo, 0), min(hi, 128)
    out[a:b] = probs[a - lo : b - lo]
    total = out.sum()
    return out / total if total > 0 else out


def _mixed(z: np.ndarray, m: np.ndarray, w: float) -> np.ndarray:
    """Logits of the group whose softmax is (1 - w) softmax(z) + w m, the group's total kept."""
    top = z.max()
    if not np.isfinite(top):
        return z
    e = np.exp(z - top)  # softmax(z) * total
    with np.errstate(divide="ignore"):
        return np.log((1 - w) * e + (w * e.sum()) * m) + top
