"""Plain note and event records shared by files, the tokenizer and the engine.

Time is in beats (quarter notes) everywhere in these records; seconds only exist at the
edges (MIDI files with tempo maps, live ports with a clock).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum


class Role(IntEnum):
    """Who plays a note: the person at the keyboard or rtgen's model."""

    PLAYER = 0
    MODEL = 1


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note: start and end in beats, pitch 0..127, velocity 1..127."""

    start: float
    end: float
    pitch: int
    velocity: int = 80
    role: Role = Role.PLAYER
    channel: int = 0


@dataclass(frozen=True)
class NoteEvent:
    """A note-on (velocity > 0) or note-off (velocity == 0) at a time in beats."""

    beat: float
    pitch: int
    velocity: int
    role: Role = Role.PLAYER

    @property
    def is_on(self) -> bool:
        return self.velocity > 0


def notes_to_events(notes: list[Note]) -> list[NoteEvent]:
    """Split notes into on/off events in playing order.

    At equal times note-offs come first, so a pitch repeated back to back is released
    before it is struck again; simultaneous note-ons go from low to high. Events carry no
    note identity, so notes are made to pair up first (see ``_untangle``): a zero-length
    note's off comes after its own on, and a pitch struck again while it sounds ends there.
    """
    events: list[tuple[float, int, int, int, NoteEvent]] = []
    for i, n in enumerate(_untangle(notes)):
        events.append((n.start, 1, n.pitch, i, NoteEvent(n.start, n.pitch, n.velocity, n.role)))
        # A zero-length (or reversed) note is released after every note-on at its time,
        # never before its own note-on; the encoder then gives it one grid step.
        end, order = (n.end, 0) if n.end > n.start else (n.start, 2)
        events.append((end, order, n.pitch, i, NoteEvent(end, n.pitch, 0, n.role)))
    events.sort(key=lambda e: e[:4])  # chords low to high, so one piece has one encoding
    return [e[4] for e in events]


def _untangle(notes: list[Note]) -> list[Note]:
    """Notes of one pitch that overlap: the earlier ends where the later starts.

    Without this the earlier note's off (one pitch, no identity) would end the later note.
    Of several notes struck at the same time on one pitch only the longest is kept.
    """
    by_pitch: dict[int, list[Note]] = {}
    for n in sorted(notes, key=lambda n: (n.pitch, n.start, -n.end)):
        kept = by_pitch.setdefault(n.pitch, [])
        if kept and kept[-1].start == n.start:
            continue  # a duplicate strike: the longest (first in this order) stands for it
        if kept and kept[-1].end > n.start:
            kept[-1] = replace(kept[-1], end=n.start)
        kept.append(n)
    return [n for kept in by_pitch.values() for n in kept]
