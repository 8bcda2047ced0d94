"""Make clean, on-the-grid notes sound as if a person played them: seeded, pure numpy.

The bundled corpus has one velocity and no human timing, so a model trained on it has never
heard a player. ``humanize`` adds what a player adds (docs/humanize.md):

- velocity: a mean per phrase (drawn in ``velocity_low..velocity_high``), a slow arch over
  the phrase (swell, then fade), accents on downbeats and beats, and noise per note;
- timing: swing (off-beat 8ths delayed, optional), onset jitter in milliseconds (one draw per
  chord: a chord is one gesture, plus a small spread within it), and release jitter.

Times stay in beats; the millisecond figures are converted at ``params.bpm``. Guarantees
(each a test): the same seed gives the same notes; no time is negative; every note lasts at
least ``min_duration_beats``; distinct onsets keep their order (a shift never crosses half
the gap to a neighbouring onset, so chords may only spread, never swap with other onsets);
notes of roles not asked for are returned untouched, and a humanised note never starts
before a same-pitch untouched note has ended (so encoding cannot shorten the untouched one).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np

from rtgen.events import Note, Role

NEIGHBOUR_FRACTION = 0.45  # an onset moves at most this share of the gap to a neighbour
TRUNCATE_SD = 2.5  # Gaussian draws are clipped at this many standard deviations
EPS = 1e-6  # beats: "on the beat" tolerance (grid times are k/12, exact to ~1e-15)


@dataclass(frozen=True)
class HumanizeParams:
    """One player at one tempo. Defaults: an amateur-to-good player (docs/humanize.md)."""

    bpm: float = 120.0  # tempo the millisecond figures below are converted at
    # Dynamics
    phrase_beats: float = 8.0  # length of one dynamic phrase (one arch), counted from beat 0
    velocity_low: float = 64.0  # each phrase's mean velocity is uniform in [low, high]
    velocity_high: float = 96.0
    arch_depth: float = 10.0  # velocity gained from a phrase's edges to its middle
    downbeat_accent: float = 8.0  # extra velocity on a bar's first beat
    beat_accent: float = 4.0  # extra velocity on the other beats (off-beat notes: none)
    beats_per_bar: int = 4  # where downbeats fall: notes carry no metre, so this is a guess
    velocity_sd: float = 5.0  # per-note velocity noise (one velocity bin is ~4 wide)
    # Timing
    onset_sd_ms: float = 15.0  # jitter of each onset (a chord shares one draw)
    chord_spread_ms: float = 4.0  # each note's own extra jitter within a chord
    release_sd_ms: float = 20.0  # jitter of each note's end, after articulation
    articulation: float = 0.95  # share of the written length held (1: legato to the next)
    min_duration_beats: float = 1 / 12  # shortest note: one grid step, so none vanishes
    swing: float = 0.5  # where an off-beat 8th lands in its beat: 0.5 straight, 2/3 triplet

    def __post_init__(self) -> None:
        if not 0.5 <= self.swing < 0.75:
            raise ValueError(f"swing {self.swing} is outside 0.5..0.75 (0.75 is the next 16th)")
        if self.bpm <= 0 or self.phrase_beats <= 0 or self.min_duration_beats <= 0:
            raise ValueError("bpm, phrase_beats and min_duration_beats must be positive")
        if self.velocity_low > self.velocity_high:
            raise ValueError("velocity_low is above velocity_high")

    def ms_to_beats(self, ms: float) -> float:
        return ms * self.bpm / 60_000.0


def stable_seed(*parts: object) -> int:
    """A seed from text that is the same on every machine and run (Python's hash is not)."""
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class PlayerRanges:
    """Where ``draw_params`` draws one player per piece from (uniform; choice for phrases)."""

    bpm: tuple[float, float] = (80.0, 160.0)  # tempo of the performance
    onset_sd_ms: tuple[float, float] = (10.0, 20.0)  # timing spread: good to amateur
    phrase_beats: tuple[float, ...] = (4.0, 8.0, 16.0)  # dynamic phrase lengths to choose from
    # Swing is off by default: notes carry no metre, and swinging a 6/8 jig (whose 8ths fall
    # on x.5 too) would be wrong, not human.
    swing_prob: float = 0.0  # chance that a piece is swung
    swing: tuple[float, float] = (0.55, 2 / 3)  # how much, when it is


def draw_params(
    rng: np.random.Generator,
    base: HumanizeParams | None = None,
    ranges: PlayerRanges | None = None,
) -> HumanizeParams:
    """One player for one piece: ``base`` with tempo, timing spread, phrase length (and
    swing) drawn from ``ranges``; always four draws, so later draws do not depend on them."""
    p, r = base or HumanizeParams(), ranges or PlayerRanges()
    bpm = float(rng.uniform(*r.bpm))
    onset_sd = float(rng.uniform(*r.onset_sd_ms))
    phrase = float(rng.choice(r.phrase_beats))
    swing = float(rng.uniform(*r.swing)) if rng.random() < r.swing_prob else p.swing
    return replace(p, bpm=bpm, onset_sd_ms=onset_sd, phrase_beats=phrase, swing=swing)


def _swung(t: np.ndarray, swing: float) -> np.ndarray:
    """Times on an off-beat 8th (x.5) moved to x + swing; every other time unchanged."""
    if swing == 0.5:
        return t.copy()
    beat = np.floor(t + EPS)
    off = np.abs(t - beat - 0.5) < EPS
    return np.where(off, beat + swing, t)


def _gaussian(rng: np.random.Generator, sd: float, n: int) -> np.ndarray:
    return np.clip(rng.normal(0.0, 1.0, n), -TRUNCATE_SD, TRUNCATE_SD) * sd


def _velocities(p: HumanizeParams, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phrase mean + (arch + metric accent, centred within the phrase) + noise. (n,) int."""
    phrase = np.floor(start / p.phrase_beats + EPS).astype(np.int64)
    means = rng.uniform(p.velocity_low, p.velocity_high, int(phrase.max()) + 1)
    pos = start / p.phrase_beats - phrase  # 0..1 through the phrase
    arch = p.arch_depth * np.sin(np.pi * pos)
    on_beat = np.abs(start - np.round(start)) < EPS
    downbeat = on_beat & (np.round(start).astype(np.int64) % p.beats_per_bar == 0)
    accent = np.where(downbeat, p.downbeat_accent, np.where(on_beat, p.beat_accent, 0.0))
    contour = arch + accent
    # Centre the contour per phrase, so each phrase's mean velocity is its drawn mean.
    sums = np.bincount(phrase, weights=contour)
    counts = np.bincount(phrase)
    contour -= sums[phrase] / counts[phrase]
    vel = means[phrase] + contour + _gaussian(rng, p.velocity_sd, len(start))
    return np.clip(np.round(vel), 1, 127).astype(np.int64)


def _onset_bounds(onsets: np.ndarray, all_onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest moves back and forward for each onset: a share of the gap to its neighbours."""
    uniq = np.unique(np.round(all_onsets, 9))
    i = np.searchsorted(uniq, np.round(onsets, 9))
    prev = np.where(i > 0, uniq[np.maximum(i - 1, 0)], -np.inf)
    nxt = np.where(i + 1 < len(uniq), uniq[np.minimum(i + 1, len(uniq) - 1)], np.inf)
    return NEIGHBOUR_FRACTION * (onsets - prev), NEIGHBOUR_FRACTION * (nxt - onsets)


def _untouched_ends(notes: list[Note], moved: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each moved note: the latest end of an untouched same-pitch note before it, else 0.

    A humanised note that started before that end would cut the untouched note short when
    encoded (one pitch sounds once), so its onset is held back to it.
    """
    fixed: dict[int, list[tuple[float, float]]] = {}
    for j, n in enumerate(notes):
        if not moved[j]:
            fixed.setdefault(n.pitch, []).append((n.start, n.end))
    for spans in fixed.values():
        spans.sort()
    floor = np.zeros(len(notes))
    for j in np.flatnonzero(moved):
        spans = fixed.get(notes[j].pitch, [])
        k = bisect_left(spans, (starts[j] + EPS, -np.inf))
        ends = [e for _, e in spans[:k] if e <= starts[j] + EPS]
        floor[j] = max(ends, default=0.0)
    return floor


def humanize(
    notes: list[Note],
    params: HumanizeParams,
    rng: np.random.Generator,
    roles: Collection[Role] = (Role.PLAYER, Role.MODEL),
) -> list[Note]:
    """The notes as a player would play them; the i-th result is the i-th input, humanised.

    Only notes whose role is in ``roles`` change; the rest come back as they were. The
    result is a function of (notes, params, the generator's state) only.
    """
    if not notes:
        return []
    p = params
    moved = np.array([n.role in roles for n in notes], dtype=bool)
    start = np.array([n.start for n in notes], dtype=np.float64)
    end = np.array([n.end for n in notes], dtype=np.float64)
    # Swing moves the written time points, so a legato line stays legato.
    s_start = np.where(moved, _swung(start, p.swing), start)
    s_end = np.where(moved, _swung(end, p.swing), end)
    idx = np.flatnonzero(moved)
    if len(idx) == 0:
        return list(notes)
    vel = _velocities(p, start[idx], rng)
    # One draw per distinct onset (a chord), then a small spread per note.
    group_t, group = np.unique(np.round(s_start[idx], 9), return_inverse=True)
    shift = _gaussian(rng, p.ms_to_beats(p.onset_sd_ms), len(group_t))[group]
    shift += _gaussian(rng, p.ms_to_beats(p.chord_spread_ms), len(idx))
    back, fwd = _onset_bounds(s_start[idx], s_start)
    new_start = s_start[idx] + np.clip(shift, -back, fwd)
    floor = _untouched_ends(notes, moved, s_start)[idx]
    new_start = np.maximum(new_start, np.maximum(floor, 0.0))
    length = np.maximum(s_end[idx] - s_start[idx], p.min_duration_beats) * p.articulation
    release = _gaussian(rng, p.ms_to_beats(p.release_sd_ms), len(idx))
    new_end = new_start + np.maximum(length + release, p.min_duration_beats)
    out = list(notes)
    for k, j in enumerate(idx):
        out[j] = replace(
            notes[j],
            start=float(new_start[k]),
            end=float(new_end[k]),
            velocity=int(vel[k]),
        )
    return out
