"""Plain note and event records shared by files, the tokenizer and the engine.

Time is in beats (quarter notes) everywhere in these records; seconds only exist at the
edges (MIDI files with tempo maps, live ports with a clock).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    before it is struck again; simultaneous note-ons go from low to high.
    """
    events: list[tuple[float, int, int, int, NoteEvent]] = []
    for i, n in enumerate(notes):
        events.append((n.start, 1, n.pitch, i, NoteEvent(n.start, n.pitch, n.velocity, n.role)))
        events.append((n.end, 0, n.pitch, i, NoteEvent(n.end, n.pitch, 0, n.role)))
    events.sort(key=lambda e: e[:4])  # chords low to high, so one piece has one encoding
    return [e[4] for e in events]
