"""Reading a held chord: the pitches under the player's left hand -> root, quality, tones.

    read_chord([50, 53, 57, 60])   # Chord(root=2, quality="m7", ...), name "Dm7"
    read_chord([64, 67, 72])       # an inversion is the same chord: "C"
    read_chord([36])               # a lone bass note: its root and fifth, "C5"

Each pitch class present may be the root; each template (below) is scored by how many of
its tones are held, less what is held outside it and what it misses (a missing fifth costs
little: players leave it out). The bass breaks ties (C6 and Am7 hold the same notes; the
bass says which). Held pitch classes no template explains are named as extensions
("C7(b9)"). Three pitch classes a semitone apart in a row (C, C#, D), or notes of which no
template explains two, are a cluster: its tones are the notes themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rtgen.midi import PITCH_CLASSES

# quality -> intervals above the root. Order matters only on an exact tie of score and bass.
TEMPLATES: dict[str, frozenset[int]] = {
    "": frozenset({0, 4, 7}),
    "m": frozenset({0, 3, 7}),
    "7": frozenset({0, 4, 7, 10}),
    "maj7": frozenset({0, 4, 7, 11}),
    "m7": frozenset({0, 3, 7, 10}),
    "m7b5": frozenset({0, 3, 6, 10}),
    "dim7": frozenset({0, 3, 6, 9}),
    "dim": frozenset({0, 3, 6}),
    "aug": frozenset({0, 4, 8}),
    "sus4": frozenset({0, 5, 7}),
    "sus2": frozenset({0, 2, 7}),
    "7sus4": frozenset({0, 5, 7, 10}),
    "6": frozenset({0, 4, 7, 9}),
    "m6": frozenset({0, 3, 7, 9}),
    "mMaj7": frozenset({0, 3, 7, 11}),
    "9": frozenset({0, 2, 4, 7, 10}),
    "maj9": frozenset({0, 2, 4, 7, 11}),
    "m9": frozenset({0, 2, 3, 7, 10}),
    "5": frozenset({0, 7}),
}
EXTENSION_NAMES = {
    1: "b9",
    2: "9",
    3: "#9",
    5: "11",
    6: "#11",
    8: "b13",
    9: "13",
    10: "7",
    11: "maj7",
}
HELD, EXTRA, MISSING, MISSING_FIFTH, BASS = 2.0, 2.0, 1.0, 0.5, 0.5  # the score's weights


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class 0..11 (0 = C)
    quality: str  # a TEMPLATES key, or "cluster"
    tones: frozenset[int]  # pitch classes that fit it: the template's tones and the extensions
    extensions: tuple[int, ...] = ()  # intervals above the root held beyond the template

    @property
    def name(self) -> str:
        """ "Dm7", "C", "G7(b9)", "E cluster"."""
        root = PITCH_CLASSES[self.root]
        if self.quality == "cluster":
            return f"{root} cluster"
        ext = ",".join(EXTENSION_NAMES[i] for i in self.extensions)
        return f"{root}{self.quality}" + (f"({ext})" if ext else "")


def _score(rel: frozenset[int], template: frozenset[int]) -> tuple[float, int]:
    """(score, extras) of the pitch classes ``rel`` (relative to a candidate root) as a
    template."""
    missing = template - rel
    extras = len(rel - template)
    miss = sum(MISSING_FIFTH if i == 7 else MISSING for i in missing)
    return HELD * len(rel & template) - EXTRA * extras - miss, extras


def read_chord(pitches: Iterable[int]) -> Chord | None:
    """The chord the held ``pitches`` (MIDI numbers) spell; None when nothing is held."""
    held = sorted(set(pitches))
    if not held:
        return None
    pcs = frozenset(p % 12 for p in held)
    bass = held[0] % 12
    if _chromatic_run(pcs):
        return Chord(bass, "cluster", pcs)
    if len(pcs) == 1:  # a lone bass note (or octaves): its root and the fifth it implies
        return Chord(bass, "5", frozenset({bass, (bass + 7) % 12}))
    best: tuple[float, int, str, int] | None = None  # score, -order, quality, root
    for root in sorted(pcs, key=lambda r: r != bass):  # the bass first
        rel = frozenset((p - root) % 12 for p in pcs)
        for order, (quality, template) in enumerate(TEMPLATES.items()):
            score, extras = _score(rel, template)
            if extras > 1 and len(rel & template) < 3:
                continue  # mostly outside this template: not a reading of it
            score += BASS if root == bass else 0.0
            key = (score, -order, quality, root)
            if best is None or key[:2] > best[:2]:
                best = key
    if best is None or _matched(pcs, best) < 2:
        return Chord(bass, "cluster", pcs)
    _, _, quality, root = best
    template = TEMPLATES[quality]
    extensions = tuple(sorted((p - root) % 12 for p in pcs if (p - root) % 12 not in template))
    tones = frozenset((root + i) % 12 for i in template | set(extensions))
    return Chord(root, quality, tones, extensions)


def _matched(pcs: frozenset[int], best: tuple[float, int, str, int]) -> int:
    rel = frozenset((p - best[3]) % 12 for p in pcs)
    return len(rel & TEMPLATES[best[2]])


def _chromatic_run(pcs: frozenset[int]) -> bool:
    """Three pitch classes each a semitone above the last (a b9 over a root is two)."""
    return any((p + 1) % 12 in pcs and (p + 2) % 12 in pcs for p in pcs)
