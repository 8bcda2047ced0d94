"""Key estimation: Krumhansl-Kessler profiles, key names, and a tracker of what the player played.

    estimate_key(weights)            -> (tonic, "major" | "minor", score)   weights: (12,)
    scale_pitch_classes(9, "minor")  -> {9, 11, 0, 2, 4, 5, 7}
    parse_key("F#m")                 -> (6, "minor")

The estimate is the Krumhansl-Schmuckler method: the Pearson correlation of a pitch-class
histogram (duration-weighted) with each of the 24 rotated Krumhansl-Kessler probe-tone profiles;
the best correlation wins and is returned as the score (-1..1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from rtgen.events import Note

MODES = ("major", "minor")

# Krumhansl & Kessler (1982) probe-tone ratings, index 0 = the tonic.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# rtgen play's tracker forgets at this rate: a two-bar call in a new key outweighs the one
# before it by the time it is answered (a call and its answer are 16 beats). At 32 a session
# that went C, G, F heard the F call as C major and answered it with B naturals against the
# player's B flats (docs/harmony.md, "How fast the key follows the player").
PLAY_HALF_LIFE_BEATS = 16.0

_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)  # natural minor (aeolian)


def _key_matrix() -> np.ndarray:
    """(24, 12) z-scored profiles: rows 0..11 major on tonic 0..11, rows 12..23 minor."""
    rows = [np.roll(KK_MAJOR, t) for t in range(12)] + [np.roll(KK_MINOR, t) for t in range(12)]
    m = np.array(rows)
    m = m - m.mean(axis=1, keepdims=True)
    return m / m.std(axis=1, keepdims=True)


_KEYS = _key_matrix()  # (24, 12)


def key_scores(pitch_weights: np.ndarray) -> np.ndarray:
    """(24,) correlations of a (12,) pitch-class histogram with each key (major 0..11, minor).

    A histogram with no variation (silence, or all twelve equal) correlates with nothing: zeros.
    """
    w = np.asarray(pitch_weights, dtype=np.float64)
    if w.shape != (12,):
        raise ValueError(f"pitch weights must have shape (12,), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("pitch weights must be finite and non-negative")
    sd = w.std()
    if sd == 0:
        return np.zeros(24)
    return _KEYS @ ((w - w.mean()) / sd) / 12.0


def estimate_key(pitch_weights: np.ndarray) -> tuple[int, str, float]:
    """(tonic 0..11, mode, correlation) of the best of the 24 keys for a (12,) histogram.

    Ties go to the lower index (major before minor, lower tonic first); a flat histogram gives
    (0, "major", 0.0), a score that says the answer means nothing.
    """
    scores = key_scores(pitch_weights)
    best = int(np.argmax(scores))
    return best % 12, MODES[best // 12], float(scores[best])


def scale_pitch_classes(tonic: int, mode: str, leading_tone: bool = False) -> set[int]:
    """Pitch classes of the major or natural-minor scale on ``tonic``.

    ``leading_tone`` adds the raised 7th of the harmonic minor to a minor scale (so both 7ths
    are allowed: an improviser in A minor plays G and G#); it changes nothing in major.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'major' or 'minor', got {mode!r}")
    steps = _MAJOR_STEPS if mode == "major" else _MINOR_STEPS
    out = {(tonic + s) % 12 for s in steps}
    if leading_tone and mode == "minor":
        out.add((tonic + 11) % 12)
    return out


_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SUFFIX = {"": "major", "maj": "major", "major": "major", "m": "minor", "min": "minor"}
_SUFFIX["minor"] = "minor"
_KEY_RE = re.compile(r"^([A-Ga-g])([#♯]{1,2}|[b♭\-]{1,2})?\s*([A-Za-z]*)$")
_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def parse_key(text: str) -> tuple[int, str]:
    """(tonic, mode) of a key name: "C", "Am", "F#m", "Bb", "Eb minor", "c# min", "B-", "DM".

    A letter, up to two sharps (#) or flats (b, or music21's -), then an optional mode: m, min,
    minor (minor) or maj, major, M (major). Anything else is a ValueError that says what fits.
    """
    if not isinstance(text, str):
        raise ValueError(f"a key is a string like 'C', 'Am', 'F#m' or 'Eb minor', got {text!r}")
    match = _KEY_RE.match(text.strip())
    suffix = match.group(3) if match else ""
    mode = "major" if suffix == "M" else _SUFFIX.get(suffix.lower())
    if match is None or mode is None:
        raise ValueError(
            f"not a key: {text!r} (expected e.g. 'C', 'Am', 'F#m', 'Bb' or 'Eb minor')"
        )
    tonic = _LETTERS[match.group(1).upper()]
    accidentals = match.group(2) or ""
    sign = 1 if accidentals[:1] in ("#", "♯") else -1
    return (tonic + sign * len(accidentals)) % 12, mode


def key_name(tonic: int, mode: str) -> str:
    """Short name of a key, spelled as its usual key signature: "C", "Bb", "F#m", "Ebm"."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'major' or 'minor', got {mode!r}")
    if mode == "major":
        return _NAMES[tonic % 12]
    return _MINOR_NAMES[tonic % 12] + "m"


class KeyTracker:
    """Duration-weighted pitch classes of what the player played, and the key they imply.

    Each finished note adds its length in beats to its pitch class. With ``half_life_beats``
    set, ``advance(beat)`` fades old weight exponentially (weight halves every half-life), so
    the key follows a modulation. ``key()`` answers None until ``min_weight_beats`` of music
    has been heard, and keeps its current answer unless another key correlates better by more
    than ``switch_margin`` (so the answer does not flicker between relative keys).
    """

    def __init__(
        self,
        half_life_beats: float | None = None,
        min_weight_beats: float = 2.0,
        switch_margin: float = 0.05,
    ) -> None:
        if half_life_beats is not None and not half_life_beats > 0:
            raise ValueError(f"half_life_beats must be > 0 or None, got {half_life_beats}")
        self.half_life_beats = half_life_beats
        self.min_weight_beats = float(min_weight_beats)
        self.switch_margin = float(switch_margin)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard."""
        self.weights = np.zeros(12)  # (12,) beats of sound per pitch class
        self.beat: float | None = None  # the clock decay was last applied at
        self._current: tuple[int, str] | None = None

    def advance(self, beat: float) -> None:
        """Move the clock to ``beat`` (never backwards), fading weight when a half-life is set."""
        if self.beat is not None and beat > self.beat and self.half_life_beats is not None:
            self.weights *= 0.5 ** ((beat - self.beat) / self.half_life_beats)
        if self.beat is None or beat > self.beat:
            self.beat = beat

    def add(self, pitch: int, duration_beats: float) -> None:
        """Count one finished note of ``pitch`` that sounded ``duration_beats``."""
        if duration_beats > 0:
            self.weights[int(pitch) % 12] += duration_beats

    def add_notes(self, notes: Iterable[Note]) -> None:
        """Count whole notes (e.g. a phrase); the clock moves to each note's end first."""
        for note in sorted(notes, key=lambda n: n.end):
            self.advance(note.end)
            self.add(note.pitch, note.end - note.start)

    def key(self) -> tuple[int, str] | None:
        """(tonic, mode) of the music heard so far, or None when too little has been heard."""
        if self.weights.sum() < self.min_weight_beats:
            return None
        scores = key_scores(self.weights)
        best = int(np.argmax(scores))
        if self._current is not None:
            tonic, mode = self._current
            held = tonic + 12 * MODES.index(mode)
            if scores[best] <= scores[held] + self.switch_margin:
                return self._current
        self._current = (best % 12, MODES[best // 12])
        return self._current

    def scale(self, leading_tone: bool = False) -> set[int] | None:
        """Pitch classes of ``key()``'s scale, or None when no key is known yet."""
        key = self.key()
        return None if key is None else scale_pitch_classes(*key, leading_tone=leading_tone)
