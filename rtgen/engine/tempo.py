"""The player's tempo: from the onsets of a first call (``--bpm auto``) or from taps (a CC).

    est = estimate_tempo([t0, t1, ...])    # onset times, ns -> Tempo(bpm, beat_ns) or None
    taps = TapTempo(); taps.tap(t_ns)      # -> Tempo once MIN_TAPS taps a steady beat apart

``estimate_tempo``: the call's shortest common gap is its pulse (the median of the gaps
within a quarter of the most frequent one); the beat is that pulse doubled or halved into
[MIN_BPM, MAX_BPM), so eighth notes at 96 BPM read as 96, not 192. The period and the phase
are then fitted by least squares to every onset placed on its nearest pulse: the error of a
hand's single onsets averages out, so the answer, eight beats later, still lands on the
player's grid. The call's first onset is taken to be on a beat (a call starts on the beat;
one that starts with a pickup is heard shifted by it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_BPM, MAX_BPM = 60.0, 180.0  # the beat is the pulse doubled or halved into this range
MIN_ONSETS = 4  # fewer onsets do not show a pulse
TAPS = 4  # a count-in: four taps set the tempo
MIN_TAPS = 2  # two already give one (refined by each further tap, up to TAPS)
TAP_RESET_NS = 2_000_000_000  # a tap this long after the last starts a new count
TAP_SPREAD = 0.2  # taps whose gaps differ by more than this share of their median: no tempo


@dataclass(frozen=True)
class Tempo:
    bpm: float
    beat_ns: int  # the time of one of the player's beats (the first onset's, refined)


def estimate_tempo(onsets_ns: Sequence[int]) -> Tempo | None:
    """The tempo and beat phase of onset times (ns, any order); None when they show none."""
    t = np.unique(np.asarray(onsets_ns, dtype=np.int64))
    if t.size < MIN_ONSETS:
        return None
    gaps = np.diff(t).astype(np.float64)
    gaps = gaps[gaps > 40e6]  # under 40 ms: a chord's spread, not a pulse
    if gaps.size < MIN_ONSETS - 1:
        return None
    pulse = _pulse(gaps)
    beat = pulse
    while 60e9 / beat >= MAX_BPM:
        beat *= 2
    while 60e9 / beat < MIN_BPM:
        beat /= 2
    # least squares: onset i at a + k_i * pulse, k_i its nearest whole pulse from the first
    rel = (t - t[0]).astype(np.float64)
    k = np.round(rel / pulse)
    if np.unique(k).size < 2:
        return None
    slope, intercept = np.polyfit(k, rel, 1)
    beat = beat * slope / pulse
    return Tempo(float(60e9 / beat), int(t[0] + round(intercept)))


def _pulse(gaps: np.ndarray) -> float:
    """The most frequent gap (to within a quarter of itself), as the median of its cluster."""
    best, best_n = gaps[0], 0
    for g in gaps:
        near = gaps[np.abs(gaps - g) <= 0.25 * g]
        if near.size > best_n or (near.size == best_n and g < best):
            best, best_n = float(np.median(near)), near.size
    return best


class TapTempo:
    """Tap tempo: each tap (a CC pressed) is a beat; a steady count sets the tempo."""

    def __init__(self) -> None:
        self.taps: list[int] = []

    def tap(self, t_ns: int) -> Tempo | None:
        """A tap at ``t_ns``; the tempo of the count so far (the last TAPS taps), or None
        while there are fewer than MIN_TAPS or they are not steady."""
        if self.taps and t_ns - self.taps[-1] > TAP_RESET_NS:
            self.taps = []
        self.taps = [*self.taps[-(TAPS - 1) :], int(t_ns)]
        if len(self.taps) < MIN_TAPS:
            return None
        gaps = np.diff(self.taps).astype(np.float64)
        mid = float(np.median(gaps))
        if mid <= 0 or np.abs(gaps - mid).max() > TAP_SPREAD * mid:
            return None
        k = np.arange(len(self.taps), dtype=np.float64)
        slope, intercept = np.polyfit(k, np.asarray(self.taps, dtype=np.float64) - self.taps[0], 1)
        bpm = 60e9 / slope
        if not MIN_BPM / 2 <= bpm <= MAX_BPM * 2:
            return None
        last = intercept + slope * (len(self.taps) - 1)
        return Tempo(float(bpm), int(self.taps[0] + round(last)))
