"""The held-chord test set of `rtgen score --harmony` (docs/harmony.md): progressions held
by a left hand below the split while a right hand plays a two-bar call over them, then
rests while rtgen answers over the same progression going on.

Progressions (in ``KEYS``, each transposed): ii-V-I, minor ii-V-i, a blues (I7 IV7 I7 I7
V7 IV7 I7 V7: two changes inside the answer), a dorian vamp (i7 IV7) and a mixolydian vamp
(I7 bVII), one chord a bar, and one with two chords a bar (ii V, iii VI) so a chord changes
mid-bar. Every third item comps (each chord struck for one beat and let go; the harmony
goes on), the others hold each chord legato to the next (the old keys let go 30 ms after the
new ones come down). The call is a seeded line over the chords: chord tones on the beats,
scale tones between. Pure data: the same set on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgen.engine.chords import Chord, read_chord
from rtgen.events import Note, Role

SPLIT = 60  # C4: the left hand below, the call above
KEYS = (0, 5, 10, 3, 7, 2, 9, 4)  # C F Bb Eb G D A E
CALL_BEATS = 8
BEATS = 24  # the progression goes on this long (call, silence, a two-bar answer, a bar more)
LEGATO_BEATS = 0.06  # the old chord's keys let go this long after the new one's (30 ms)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
# (name, [(root interval above the tonic, quality, beats)], scale intervals of the tonic)
PROGRESSIONS = (
    ("ii-V-I", [(2, "m7", 4), (7, "7", 4), (0, "maj7", 8)], MAJOR),
    ("minor ii-V-i", [(2, "m7b5", 4), (7, "7", 4), (0, "m7", 8)], (0, 2, 3, 5, 7, 8, 11)),
    (
        "blues",
        [(0, "7", 4), (5, "7", 4), (0, "7", 8), (7, "7", 4), (5, "7", 4), (0, "7", 4), (7, "7", 4)],
        (0, 2, 4, 5, 7, 9, 10),
    ),
    ("dorian vamp", [(0, "m7", 4), (5, "7", 4)], (0, 2, 3, 5, 7, 9, 10)),
    ("mixolydian vamp", [(0, "7", 4), (10, "", 4)], (0, 2, 4, 5, 7, 9, 10)),
    ("ii V iii VI", [(2, "m7", 2), (7, "7", 2), (4, "m7", 2), (9, "7", 2)], MAJOR),
)
VOICINGS = {  # intervals above the root, voiced close as a left hand plays them
    "": (0, 4, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
}


@dataclass(frozen=True)
class ChordSpan:
    start: float  # beats
    end: float  # the next chord's start (the harmony goes on until then)
    pitches: tuple[int, ...]
    chord: Chord


@dataclass(frozen=True)
class Item:
    name: str  # "ii-V-I in F"
    chords: tuple[ChordSpan, ...]
    keys: tuple[Note, ...]  # what the left hand plays (below SPLIT)
    call: tuple[Note, ...]  # what the right hand plays (the call)


def _voicing(root_pc: int, quality: str) -> tuple[int, ...]:
    """The root in the bass (C2..B2), the other tones above it in the octave below C4 (an
    inversion, as a left hand voices it: the chord is the same)."""
    bass = 36 + root_pc
    upper = sorted(48 + (root_pc + i) % 12 for i in VOICINGS[quality][1:])
    return (bass, *upper)


def _chords(key: int, changes: list[tuple[int, str, int]]) -> list[ChordSpan]:
    out, t, i = [], 0.0, 0
    while t < BEATS:
        interval, quality, beats = changes[i % len(changes)]
        pitches = _voicing((key + interval) % 12, quality)
        out.append(ChordSpan(t, min(t + beats, BEATS), pitches, read_chord(pitches)))
        t, i = t + beats, i + 1
    return out


def _keys(chords: list[ChordSpan], comp: bool) -> list[Note]:
    """Comping: each chord struck for a beat. Legato: held until the next is down, a tone
    common to both held on through (as a hand does), the others let go just after."""
    notes: list[Note] = []
    held: dict[int, float] = {}  # pitch -> when it went down
    for i, c in enumerate(chords):
        nxt = set(chords[i + 1].pitches) if i + 1 < len(chords) else set()
        for p in c.pitches:
            if comp:
                notes.append(Note(c.start, c.start + 1.0, p, 70, Role.PLAYER))
                continue
            held.setdefault(p, c.start)
            if p not in nxt:
                end = min(c.end + LEGATO_BEATS, BEATS)
                notes.append(Note(held.pop(p), end, p, 70, Role.PLAYER))
    return notes


def _call(chords: list[ChordSpan], key: int, scale: tuple[int, ...], rng) -> list[Note]:
    """Eighths and quarters over the call's two bars: chord tones on the beats, scale tones
    a step away between, in C4..G5."""
    pcs = sorted({(key + i) % 12 for i in scale})
    notes, t, pitch = [], 0.0, 67
    while t < CALL_BEATS - 0.5:
        chord = next(c for c in chords if c.start <= t < c.end).chord
        on_beat = abs(t - round(t)) < 1e-9
        pool = chord.tones if on_beat else pcs
        near = [p for p in range(62, 80) if p % 12 in pool and abs(p - pitch) <= 4 and p != pitch]
        pitch = int(rng.choice(near or [p for p in range(62, 80) if p % 12 in pool]))
        length = 1.0 if on_beat and rng.random() < 0.35 else 0.5
        notes.append(Note(t, t + length * 0.9, pitch, int(rng.integers(70, 100)), Role.PLAYER))
        t += length
    return notes


def harmony_set(seed: int = 0) -> list[Item]:
    """The held-chord items: every progression in every key (same ``seed``, same set)."""
    items = []
    for k, key in enumerate(KEYS):
        for p, (name, changes, scale) in enumerate(PROGRESSIONS):
            rng = np.random.default_rng([seed, k, p])
            chords = _chords(key, changes)
            comp = (k + p) % 3 == 0
            keys = _keys(chords, comp)
            call = _call(chords, key, scale, rng)
            label = f"{name} in {'C C# D Eb E F F# G Ab A Bb B'.split()[key]}"
            items.append(Item(label, tuple(chords), tuple(keys), tuple(call)))
    return items


def chord_at(chords: tuple[ChordSpan, ...], beat: float) -> Chord | None:
    """The chord sounding at ``beat`` (the harmony held then)."""
    for c in chords:
        if c.start <= beat < c.end:
            return c.chord
    return None
