"""The metrics of docs/score.md: pure functions of note lists (times in beats from the first
beat of a two-bar window; compared on rtgen's grid of 12 steps a beat).

A metric that has nothing to measure (an answer with no notes has no pitch classes, one
onset has no gaps) is None, and the mean over answers leaves it out. L1 distances are
between normalised histograms: 0 (the same) to 2 (nothing in common).
"""

from __future__ import annotations

import difflib
from itertools import combinations

import numpy as np

from rtgen import tokens as T
from rtgen.engine.keys import estimate_key, scale_pitch_classes
from rtgen.engine.manner import MAX_GAP
from rtgen.engine.rhythmfit import gap_histogram
from rtgen.events import Note
from rtgen.score.line import melodic_line

G = T.GRID_STEPS_PER_BEAT
WINDOW_BEATS = 8.0
MAX_INTERVAL = 12  # successive intervals are clipped to +-12 semitones
MOTIF = 4  # notes in a motif: 3 intervals
MAX_GAP_STEPS = MAX_GAP  # inter-onset gaps are clipped to 48 steps (4 beats), as the engine's
COPY_RATIO = 0.8  # difflib ratio at or above which an answer is a copy

Notes = list[Note] | tuple[Note, ...]


def step(beat: float) -> int:
    return T.to_step(beat)


def onsets(notes: Notes) -> list[int]:
    """Distinct onset steps, in order."""
    return sorted({step(n.start) for n in notes})


def onsets_per_beat(notes: Notes, beats: float = WINDOW_BEATS) -> float:
    return len(onsets(notes)) / beats


def polyphony(notes: Notes) -> float | None:
    """Share of notes that start while another note sounds, or together with another."""
    if not notes:
        return None
    spans = [(step(n.start), step(n.end)) for n in notes]
    hit = 0
    for i, (on, _) in enumerate(spans):
        hit += any(j != i and s <= on and (s == on or on < e) for j, (s, e) in enumerate(spans))
    return hit / len(notes)


def _histogram(values: list[int], bins: int, offset: int = 0) -> np.ndarray | None:
    """(bins,) normalised histogram of ``values`` (value v in bin v + offset); None if empty."""
    if not values:
        return None
    h = np.bincount(np.asarray(values) + offset, minlength=bins).astype(np.float64)
    return h / h.sum()


def l1(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """L1 distance of two normalised histograms (0..2); None if either is missing."""
    if a is None or b is None:
        return None
    return float(np.abs(a - b).sum())


def pitch_classes(notes: Notes) -> np.ndarray | None:
    """(12,) share of notes per pitch class."""
    return _histogram([n.pitch % 12 for n in notes], 12)


def call_scale(call: Notes) -> set[int]:
    """The pitch classes of the call's Krumhansl-Kessler key (duration-weighted profile);
    a minor key also gets its raised 7th."""
    weights = np.zeros(12)
    for n in call:
        weights[n.pitch % 12] += max(n.end - n.start, 0.0)
    tonic, mode, _ = estimate_key(weights)
    return scale_pitch_classes(tonic, mode, leading_tone=True)


def in_key(notes: Notes, scale: set[int]) -> float | None:
    """Share of notes whose pitch class is in ``scale``."""
    if not notes:
        return None
    return sum(n.pitch % 12 in scale for n in notes) / len(notes)


def mean_pitch_gap(a: Notes, b: Notes) -> float | None:
    """|mean pitch of a - mean pitch of b|, semitones."""
    if not a or not b:
        return None
    return abs(float(np.mean([n.pitch for n in a])) - float(np.mean([n.pitch for n in b])))


def range_gap(a: Notes, b: Notes) -> float | None:
    """|range of a - range of b| (highest minus lowest pitch), semitones."""
    if not a or not b:
        return None

    def span(notes: Notes) -> int:
        pitches = [n.pitch for n in notes]
        return max(pitches) - min(pitches)

    return float(abs(span(a) - span(b)))


def line_pitches(notes: Notes) -> list[int]:
    """Pitches of the melodic line (line.py), in order."""
    return [n.pitch for n in melodic_line(list(notes))]


def intervals(notes: Notes) -> np.ndarray | None:
    """(25,) histogram of the line's successive intervals, clipped to +-12."""
    p = line_pitches(notes)
    steps = [max(-MAX_INTERVAL, min(MAX_INTERVAL, b - a)) for a, b in zip(p, p[1:])]
    return _histogram(steps, 2 * MAX_INTERVAL + 1, MAX_INTERVAL)


def inter_onsets(notes: Notes) -> np.ndarray | None:
    """(49,) histogram of gaps between distinct onsets, in steps, clipped to 48."""
    return gap_histogram(np.asarray(onsets(notes), dtype=np.int64))


def grid_shares(notes: Notes) -> dict[str, float | None]:
    """Shares of distinct onsets on the beat, on 8ths (the beat included), on 16ths (8ths
    included), on triplets (not on the beat) and off the grid (neither 16th nor triplet)."""
    on = onsets(notes)
    if not on:
        return dict.fromkeys(("beat", "8th", "16th", "triplet", "off"))
    n = len(on)
    return {
        "beat": sum(s % 12 == 0 for s in on) / n,
        "8th": sum(s % 6 == 0 for s in on) / n,
        "16th": sum(s % 3 == 0 for s in on) / n,
        "triplet": sum(s % 4 == 0 and s % 12 != 0 for s in on) / n,
        "off": sum(s % 3 != 0 and s % 4 != 0 for s in on) / n,
    }


def _motifs(pitches: list[int]) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """(shapes, pitch sequences) of every 4-note run: 3 intervals, and the 4 pitches."""
    runs = [tuple(pitches[i : i + MOTIF]) for i in range(len(pitches) - MOTIF + 1)]
    return [tuple(b - a for a, b in zip(r, r[1:])) for r in runs], runs


def motifs(answer: Notes, call: Notes) -> dict[str, float | None]:
    """echo: the answer's line shares a 4-note shape (transposition-free) with the call's;
    share: the answer's shapes (each occurrence) found in the call / all its shapes;
    transposed: it shares a shape but no 4-note pitch sequence."""
    a_shapes, a_runs = _motifs(line_pitches(answer))
    c_shapes, c_runs = _motifs(line_pitches(call))
    shared = set(a_shapes) & set(c_shapes)
    echo = bool(shared)
    share = sum(s in shared for s in a_shapes) / len(a_shapes) if a_shapes else None
    exact = bool(set(a_runs) & set(c_runs))
    return {"echo": float(echo), "motif_share": share, "echo_transposed": float(echo and not exact)}


def onset_pitch(notes: Notes) -> list[tuple[int, int]]:
    """The (onset step, pitch) sequence compared by copy and diversity."""
    return sorted((step(n.start), n.pitch) for n in notes)


def similarity(a: Notes, b: Notes) -> float:
    """difflib's ratio of the two (onset step, pitch) sequences (0..1)."""
    return difflib.SequenceMatcher(None, onset_pitch(a), onset_pitch(b), autojunk=False).ratio()


def is_copy(answer: Notes, call: Notes) -> bool:
    return similarity(answer, call) >= COPY_RATIO


def diversity(answers: list[Notes]) -> float | None:
    """Mean over pairs (of seeds) of 1 - similarity; None with fewer than two answers."""
    pairs = list(combinations(answers, 2))
    if not pairs:
        return None
    return float(np.mean([1.0 - similarity(a, b) for a, b in pairs]))


def answer_metrics(answer: Notes, call: Notes, truth: Notes) -> dict[str, float | None]:
    """Every per-answer metric of one answer to one call (diversity and NLL are not per
    answer: the runner adds them)."""
    n = len(answer)
    out: dict[str, float | None] = {
        "notes": float(n),
        "onsets_per_beat": onsets_per_beat(answer),
        "density_vs_call": n / len(call) if call else None,
        "density_vs_truth": n / len(truth) if truth else None,
        "polyphony": polyphony(answer),
        "pc_l1_call": l1(pitch_classes(answer), pitch_classes(call)),
        "pc_l1_truth": l1(pitch_classes(answer), pitch_classes(truth)),
        "in_key": in_key(answer, call_scale(call)),
        "mean_pitch_gap": mean_pitch_gap(answer, truth),
        "range_gap": range_gap(answer, truth),
        "interval_l1": l1(intervals(answer), intervals(truth)),
        "ioi_l1": l1(inter_onsets(answer), inter_onsets(truth)),
    }
    out.update({f"grid_{k}": v for k, v in grid_shares(answer).items()})
    out.update(motifs(answer, call))
    out["copy"] = float(is_copy(answer, call))
    out["silent"] = float(n == 0)
    return out
