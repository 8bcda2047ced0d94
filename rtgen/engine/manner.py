"""A call's manner: how the player played it, estimated from its notes (docs/manner.md).

    m = estimate_manner(call_notes, beats_per_bar=4)   # notes: times in beats, any order
    m.voices, m.notes_per_beat, m.low, m.high, m.grid, m.positions, m.velocity_at(0.5)

Five aspects, each what the answer is steered toward (rtgen/engine/bias.py):

- texture: ``voices``, the notes the call sounds together (1: a single line). A chord is
  notes that start within ``CHORD_WINDOW`` of each other and sound together for at least half
  of the shorter one; a note struck while another sounds on for at least half of it is a
  voice too. A humanised legato line (overlaps of a few tens of ms) stays a single line.
- density: ``notes_per_beat``, the call's notes over its length rounded up to whole bars
  (the length an answer gets by default), so an answer as long as the call plays as many;
  grace notes (below) are not counted: the answer gets its own from the ornament.
- register: the lowest, highest and mean pitch.
- rhythm: onsets snapped to the call's grid, straight (multiples of 3 steps: 8ths, 16ths) or
  triplet (multiples of 4: triplets, swung 8ths), whichever the off-beat onsets fit better;
  ``positions``: (12,) share of snapped onsets at each step of the beat; ``gaps``: the
  inter-onset gaps of the snapped line; ``lengths``: note lengths in grid steps. Snapping
  keeps the player's vocabulary; ``deviations`` keep how their hands sat around it (the
  answer's feel, feel.py).
- dynamics: mean velocity and its contour over the call (``CONTOUR_POINTS`` segments).
- ornaments: ``graces``, the interval from each grace note to the note it leads into (a note
  shorter than ``GRACE_BEATS`` that ends as the next, later note of another pitch starts,
  within ``GRACE_BEATS`` of its own start: a crushed note, a flick into the melody), and
  ``grace_rate``, graces per other note (ornament.py gives the answer as many).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rtgen import tokens as T
from rtgen.events import Note

G = T.GRID_STEPS_PER_BEAT
CHORD_WINDOW = 0.06  # beats (30 ms at 120 BPM): onsets closer than this are one gesture
MAX_GAP = T.MAX_SHIFT  # gaps and lengths are clipped to 48 steps (4 beats)
CONTOUR_POINTS = 4  # the velocity contour: means over this many equal parts of the call
GRACE_BEATS = 0.1  # a grace note is shorter than this and leads into the next note within
# it (50 ms at 120 BPM); a 32nd note (0.125) is not one
GRACE_MIN_BEATS = 0.03  # and lasts at least this (15 ms at 120 BPM): a sliver is no note
GRACE_MAX_INTERVAL = 9  # and lies at most a major 6th from its note (a hand's flick or roll)
GRACE_TOUCH = 0.02  # and has ended by the next onset, give or take this (a chord's notes sound on)


@dataclass(frozen=True, eq=False)
class Manner:
    """What an answer takes from its call; times in grid steps, pitches MIDI numbers."""

    notes: int = 0
    beats: float = 0.0  # the length density is counted over (whole bars)
    notes_per_beat: float = 0.0
    voices: int = 1  # notes sounding together (1: a single line)
    low: int = 0
    high: int = 127
    mean_pitch: float = 64.0
    grid: str = "straight"  # "straight" (multiples of 3 steps) or "triplet" (of 4)
    positions: np.ndarray = field(default_factory=lambda: np.full(G, 1.0 / G))  # (12,)
    onsets: tuple[int, ...] = ()  # the line's onsets, grid steps (snapped), in order
    gaps: tuple[int, ...] = ()  # inter-onset gaps of the line, steps (snapped)
    lengths: tuple[int, ...] = ()  # note lengths, steps
    velocity: float = 80.0
    contour: tuple[float, ...] = (80.0,) * CONTOUR_POINTS
    line: tuple[int, ...] = ()  # pitches of the line (the highest note of each onset)
    deviations: tuple[float, ...] = ()  # each onset minus its snapped step, in steps (feel.py)
    graces: tuple[int, ...] = ()  # each grace note's pitch minus its main note's (ornament.py)
    grace_rate: float = 0.0  # grace notes per other note of the call

    def velocity_at(self, fraction: float) -> float:
        """The call's velocity at ``fraction`` (0..1) of its length, interpolated."""
        xs = (np.arange(len(self.contour)) + 0.5) / len(self.contour)
        return float(np.interp(min(max(fraction, 0.0), 1.0), xs, self.contour))


def estimate_manner(notes: list[Note], beats_per_bar: int = 4) -> Manner | None:
    """The manner of ``notes`` (one call), or None when it has no notes."""
    notes = sorted(notes, key=lambda n: (n.start, -n.pitch))
    if not notes:
        return None
    starts = np.array([n.start for n in notes])
    onsets = _onset_groups(starts)  # (k,) first index of each onset gesture
    steps, grid = snap_onsets(starts[onsets])
    line = [max(notes[i:j], key=lambda n: n.pitch) for i, j in _spans(onsets, len(notes))]
    pitches = np.array([n.pitch for n in notes])
    span = max(n.end for n in notes) - notes[0].start
    bars = max(1, math.ceil(span / beats_per_bar - 1e-6))
    graces = _graces(notes)
    return Manner(
        notes=len(notes),
        beats=float(bars * beats_per_bar),
        notes_per_beat=(len(notes) - len(graces)) / (bars * beats_per_bar),  # graces: ornament
        voices=_voices(notes),
        low=int(pitches.min()),
        high=int(pitches.max()),
        mean_pitch=float(pitches.mean()),
        grid=grid,
        positions=np.bincount(steps % G, minlength=G) / len(steps),
        onsets=tuple(int(s) for s in steps),
        gaps=tuple(int(min(g, MAX_GAP)) for g in np.diff(steps) if g > 0),
        lengths=tuple(int(min(max(round((n.end - n.start) * G), 1), MAX_GAP)) for n in line),
        velocity=float(np.mean([n.velocity for n in notes])),
        contour=_contour(notes, span),
        line=tuple(n.pitch for n in line),
        deviations=tuple(float(d) for d in starts[onsets] * G - steps),
        graces=graces,
        grace_rate=len(graces) / max(len(notes) - len(graces), 1),
    )


def snap_onsets(starts: np.ndarray) -> tuple[np.ndarray, str]:
    """(snapped grid steps, grid name) of onset times in beats: every onset goes to the
    nearest multiple of 3 steps (straight) or of 4 (triplet), one grid for the whole call,
    the one its off-beat onsets lie closer to (straight on a tie)."""
    raw = np.asarray(starts, dtype=np.float64) * G
    near_beat = np.abs(raw - np.round(raw / G) * G) <= 1.0
    off = raw[~near_beat]
    err3 = np.abs(off - np.round(off / 3) * 3).sum()
    err4 = np.abs(off - np.round(off / 4) * 4).sum()
    unit, grid = (4, "triplet") if err4 < err3 else (3, "straight")
    snapped = (np.round(raw / unit) * unit).astype(np.int64)
    return np.maximum.accumulate(snapped), grid  # jitter never reorders snapped onsets


def _onset_groups(starts: np.ndarray) -> np.ndarray:
    """Index of the first note of each onset gesture (``starts`` sorted)."""
    first = [0]
    for i in range(1, len(starts)):
        if starts[i] - starts[first[-1]] > CHORD_WINDOW:
            first.append(i)
    return np.array(first)


def _spans(first: np.ndarray, n: int) -> list[tuple[int, int]]:
    ends = list(first[1:]) + [n]
    return list(zip(first.tolist(), ends))


def _voices(notes: list[Note]) -> int:
    """The texture: 1 for a line; else the notes that really sound together at an onset
    (another note struck by then and still sounding for at least half of the shorter of
    the two), the median over the onsets that have company: a passing chord or two does
    not make a chordal call. ``notes`` are sorted by start; a note is compared with the 16
    before and the 8 after it (no call stacks more)."""
    together: list[int] = []
    for i, n in enumerate(notes):
        count = 1
        for j in range(max(0, i - 16), min(len(notes), i + 9)):
            m = notes[j]
            if j == i or m.start > n.start + CHORD_WINDOW or m.end <= n.start:
                continue
            overlap = min(n.end, m.end) - max(n.start, m.start)
            count += overlap >= 0.5 * min(n.end - n.start, m.end - m.start)
        together.append(count)
    company = [c for c in together if c > 1]
    if len(company) < max(2, 0.2 * len(notes)):  # mostly single notes: a line
        return 1
    return int(round(float(np.median(company))))


def _graces(notes: list[Note]) -> tuple[int, ...]:
    """Interval (grace minus main) of each grace note: a note of GRACE_MIN_BEATS up to
    GRACE_BEATS whose next onset, a note at least GRACE_BEATS long, of another pitch at most
    GRACE_MAX_INTERVAL away, comes as it ends. Of a two-note slide the second counts: at
    most one grace a note. ``notes`` sorted by start."""
    out = []
    for i, g in enumerate(notes):
        if not GRACE_MIN_BEATS <= g.end - g.start < GRACE_BEATS:
            continue
        nxt = next((n for n in notes[i + 1 :] if n.start > g.start), None)
        if (
            nxt is not None
            and nxt.end - nxt.start >= GRACE_BEATS  # a note, not the next grace of a slide
            and 0 < abs(nxt.pitch - g.pitch) <= GRACE_MAX_INTERVAL
            and GRACE_MIN_BEATS <= nxt.start - g.start < GRACE_BEATS
            and abs(g.end - nxt.start) <= GRACE_TOUCH
        ):
            out.append(g.pitch - nxt.pitch)
    return tuple(out)


def _contour(notes: list[Note], span: float) -> tuple[float, ...]:
    """Mean velocity in each of CONTOUR_POINTS equal parts of the call (the overall mean
    where a part has no onset)."""
    t0 = notes[0].start
    parts: list[list[int]] = [[] for _ in range(CONTOUR_POINTS)]
    for n in notes:
        k = int((n.start - t0) / max(span, 1e-9) * CONTOUR_POINTS)
        parts[min(k, CONTOUR_POINTS - 1)].append(n.velocity)
    mean = float(np.mean([n.velocity for n in notes]))
    return tuple(float(np.mean(p)) if p else mean for p in parts)
