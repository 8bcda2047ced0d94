"""The call's manner as an additive logit bias: soft preferences, never masks (docs/manner.md).

    b = MannerBias(manner, Strengths(texture=4, density=1), start_step=beat * 12, steps=96)
    b.set_scale({0, 2, 4, 5, 7, 9, 11})   # the key as a preference (None: no key)
    b.apply(z, gen, played)               # z: (vocab,) float64 logits, changed in place

Everything that depends only on the call is computed once per answer (``__init__``); what a
token costs is a few slices of numpy arrays, and a loop over the model's sounding notes only.
A strength of 0 turns its aspect off. Per aspect, in logits (before the sampler's
temperature):

- texture: every NOTE_ON and VELOCITY (a VELOCITY is followed by its NOTE_ON) loses
  ``texture`` for each model note already sounding beyond the call's voices, so a single-line
  call gets a line: the model ends its note first (NOTE_OFF) or waits.
- density: NOTE_ON and VELOCITY gain ``density`` x the notes the answer is behind the call's
  pace (negative when ahead), clipped to +-``DENSITY_CLIP`` notes.
- register: NOTE_ON(p) loses ``register`` per ``REGISTER_STEP`` semitones outside the call's
  range widened by ``REGISTER_MARGIN``, and ``MEAN_PULL`` x ``register`` per half the
  call's range away from its mean pitch (answers stay near the call's register).
- rhythm: within the SHIFTs (their total kept), SHIFT(k) is weighed by the call's chance
  that the next onset comes k steps on, given the step of the beat the last onset fell on
  and the steps since: P(gap = since + k | gap > since, that step), to the power
  ``rhythm``. So a swung call (onsets on steps 0 and 8 of the beat) moves the answer from 0
  to 8 and from 8 to the next beat. NOTE_ON and VELOCITY gain ``rhythm`` x
  ``STRIKE_SHARE`` x log(share of the call's onsets on this step of the beat / 1/12)
  (unplayed steps floored, lower off the call's grid), and the NOTE_OFF of a sounding note
  gains ``rhythm`` x ``LENGTH_SHARE`` x the log-odds that a call note of its age ends now
  (note lengths like the call's).
- dynamics: VELOCITY(b) loses ``dynamics`` x ((b - target) / 2)^2 / 2, the target following
  the call's velocity contour over the answer; while the current velocity is far from the
  target, the VELOCITY tokens gain, so the answer changes level as the call did.
- key: NOTE_ON of a pitch outside the scale loses ``key`` (``--key-strict`` keeps the mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgen import tokens as T
from rtgen.engine.manner import Manner
from rtgen.engine.sampler import GenState

G = T.GRID_STEPS_PER_BEAT
ON = slice(T.NOTE_ON_BASE, T.NOTE_ON_BASE + 128)
OFF_BASE = T.NOTE_OFF_BASE
VEL = slice(T.VELOCITY_BASE, T.VELOCITY_BASE + T.VELOCITY_BINS)
SHIFT = slice(T.SHIFT_BASE, T.SHIFT_BASE + T.MAX_SHIFT)

DENSITY_CLIP = 3.0  # notes ahead or behind beyond this count no more
REGISTER_MARGIN = 2  # semitones around the call's range that cost nothing
REGISTER_STEP = 3.0  # semitones outside the margin that cost one ``register``
MEAN_PULL = 1.0  # share of ``register`` lost per half the call's range from its mean pitch
GRID_FLOOR = 0.03  # share given to an unplayed step of the beat on the call's grid
OFF_GRID = 0.1  # the same off the call's grid, relative to on it
RHYTHM_CLIP = 3.0  # a strike costs at most this (a gap twice this), in units of ``rhythm``
STRIKE_CLIP = 0.5  # a step the call struck often gains at most this
STRIKE_SHARE = 0.5  # weight of where notes are struck within ``rhythm``
GAP_PRIOR = 2.0  # onsets' worth of the call's gaps from any step in each step's gaps
LENGTH_SHARE = 0.5  # weight of note lengths within ``rhythm``
LENGTH_CLIP = 3.0  # log-odds of ending now, clipped
VELOCITY_WIDTH = 2.0  # velocity bins (~8 velocity) that cost half a ``dynamics``
VELOCITY_FAR = 2  # bins from the target beyond which a change of velocity is encouraged


@dataclass(frozen=True)
class Strengths:
    """How strongly each aspect of the call's manner steers the answer (0 = off)."""

    texture: float = 0.0
    density: float = 0.0
    register: float = 0.0
    rhythm: float = 0.0
    dynamics: float = 0.0
    key: float = 0.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (value >= 0 and np.isfinite(value)):
                raise ValueError(f"strength {name} must be finite and >= 0, got {value}")


class MannerBias:
    """The per-answer vectors (module docstring) and the per-token sum of them."""

    def __init__(self, manner: Manner, s: Strengths, start_step: int, steps: int) -> None:
        self.m, self.s, self.start, self.steps = manner, s, start_step, max(int(steps), 1)
        self._register = _register_bias(manner) * s.register  # (128,)
        self._key = np.zeros(128)
        self._pitch = self._register.copy()  # (128,) register + key
        self._strike = _strike_bias(manner) * s.rhythm * STRIKE_SHARE  # (12,) step of the beat
        self._gaps = _gap_table(manner) * s.rhythm  # (12, 48, 48): last onset, since, SHIFT
        self._ending = _length_log_odds(manner.lengths) * s.rhythm * LENGTH_SHARE  # (49,)
        self._velocity = _velocity_rows(manner, self.steps) * s.dynamics  # (beats, 32)
        self._targets = _velocity_targets(manner, self.steps)  # (beats,) target bin per beat

    def set_scale(self, scale: frozenset[int] | set[int] | None) -> None:
        """The key as a preference: pitches outside ``scale`` lose ``key`` (None: no key)."""
        self._key = np.zeros(128)
        if scale is not None and self.s.key > 0:
            inside = np.isin(np.arange(128) % 12, sorted(scale))
            self._key[~inside] = -self.s.key
        self._pitch = self._register + self._key

    def apply(self, z: np.ndarray, gen: GenState, played: int) -> None:
        """Add the bias for the next token to ``z`` ((vocab,) float64 logits, in place);
        ``played``: the answer's notes so far."""
        s, m = self.s, self.m
        strike = 0.0  # for NOTE_ON and VELOCITY alike: whether to strike a note now
        if s.texture:
            strike -= s.texture * max(0, len(gen.sounding) + 1 - m.voices)
        if s.density:
            behind = m.notes_per_beat * (gen.step - self.start) / G + 0.5 - played
            strike += s.density * min(max(behind, -DENSITY_CLIP), DENSITY_CLIP)
        if s.rhythm:
            strike += self._strike[gen.step % G]
            for pitch, onset in gen.sounding.items():
                z[OFF_BASE + pitch] += self._ending[min(gen.step - onset, T.MAX_SHIFT)]
            last = gen.recent[-1][0] if gen.recent else None
            if last is not None and last >= self.start:
                since = min(gen.step - last, T.MAX_SHIFT - 1)
                shifts = z[SHIFT]
                weighed = shifts + self._gaps[last % G, since]
                z[SHIFT] = weighed + (logsumexp(shifts) - logsumexp(weighed))
        z[ON] += self._pitch + strike
        z[VEL] += strike
        if s.dynamics:
            beat = min(max((gen.step - self.start) // G, 0), len(self._targets) - 1)
            z[VEL] += self._velocity[beat]
            if gen.velocity_bin is not None:
                far = abs(gen.velocity_bin - self._targets[beat]) - VELOCITY_FAR
                z[VEL] += s.dynamics * min(max(far / VELOCITY_WIDTH, 0.0), 2.0)


def _register_bias(m: Manner) -> np.ndarray:
    """(128,) in units of ``register``: distance outside the call's range, and from its mean."""
    p = np.arange(128, dtype=np.float64)
    below = np.maximum(0, (m.low - REGISTER_MARGIN) - p)
    above = np.maximum(0, p - (m.high + REGISTER_MARGIN))
    half = max((m.high - m.low) / 2 + REGISTER_MARGIN, 3.0)
    return -(below + above) / REGISTER_STEP - MEAN_PULL * np.abs(p - m.mean_pitch) / half


def _grid_floor(m: Manner, size: int) -> np.ndarray:
    """(size,) 1 on the call's grid (multiples of 3 or 4 steps), OFF_GRID off it."""
    unit = 4 if m.grid == "triplet" else 3
    return np.where(np.arange(size) % unit == 0, 1.0, OFF_GRID)


def _strike_bias(m: Manner) -> np.ndarray:
    """(12,) in units of ``rhythm``: log(share of the call's onsets on this step of the beat
    / 1/12), unplayed steps floored (lower off the call's grid), at most STRIKE_CLIP."""
    floor = _grid_floor(m, G) * GRID_FLOOR
    share = (m.positions + floor) / (1.0 + floor.sum())
    return np.clip(np.log(share * G), -RHYTHM_CLIP, STRIKE_CLIP)


def _gap_table(m: Manner) -> np.ndarray:
    """(12, 48, 48) in units of ``rhythm``: [step of the beat of the last onset, steps since
    it, k - 1] -> log(48 P(the next onset comes at since + k | later than since, that step)).

    P(gap | step) is the call's gaps from onsets on that step of the beat, smoothed toward
    its gaps from any step (GAP_PRIOR onsets' worth), themselves smoothed toward the call's
    grid; gaps past 48 steps count as 48."""
    gmax = T.MAX_SHIFT
    onsets = sorted(set(m.onsets))
    counts = np.zeros((G, gmax + 1))
    for a, b in zip(onsets, onsets[1:]):
        counts[a % G, min(b - a, gmax)] += 1
    grid = _grid_floor(m, gmax + 1)
    grid[0] = 0.0
    total = counts.sum(axis=0)
    plain = (total + grid / grid.sum()) / (total.sum() + 1.0)  # (49,) from any step
    cond = (counts + GAP_PRIOR * plain) / (counts.sum(axis=1, keepdims=True) + GAP_PRIOR)
    gap = np.arange(gmax)[:, None] + np.arange(1, gmax + 1)[None, :]  # (48, 48): since + k
    p = np.where(gap <= gmax, cond[:, np.minimum(gap, gmax)], 0.0)  # (12, 48, 48)
    p = p / np.maximum(p.sum(axis=2, keepdims=True), 1e-12)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p * gmax), -2 * RHYTHM_CLIP)


def logsumexp(x: np.ndarray) -> float:
    """log(sum(exp(x))), stable; -inf (or the non-finite top) when nothing is open."""
    top = x.max()
    if not np.isfinite(top):
        return float(top)
    return float(top + np.log(np.exp(x - top).sum()))


def _length_log_odds(lengths: tuple[int, ...]) -> np.ndarray:
    """(49,) for a note of age a steps: the log-odds that a call note that long ends now
    (its hazard), smoothed over +-1 step; 0 without lengths."""
    if not lengths:
        return np.zeros(T.MAX_SHIFT + 1)
    h = np.bincount(np.asarray(lengths), minlength=T.MAX_SHIFT + 1)[: T.MAX_SHIFT + 1]
    h = h.astype(np.float64)
    h = np.convolve(h, [0.25, 0.5, 0.25], mode="same") + 0.02
    survive = np.cumsum(h[::-1])[::-1]  # notes at least a steps long
    hazard = np.clip(h / survive, 1e-3, 1 - 1e-3)
    return np.clip(np.log(hazard / (1 - hazard)), -LENGTH_CLIP, LENGTH_CLIP)


def _velocity_targets(m: Manner, steps: int) -> np.ndarray:
    """(beats,) the velocity bin the answer aims at in each of its beats."""
    beats = max(1, -(-steps // G))
    return np.array(
        [T.velocity_to_bin(round(m.velocity_at((b + 0.5) / beats))) for b in range(beats)]
    )


def _velocity_rows(m: Manner, steps: int) -> np.ndarray:
    """(beats, 32) in units of ``dynamics``: the VELOCITY bias in each beat of the answer."""
    targets = _velocity_targets(m, steps)
    bins = np.arange(T.VELOCITY_BINS)[None, :]
    return np.maximum(-0.5 * ((bins - targets[:, None]) / VELOCITY_WIDTH) ** 2, -4.0)
