"""Hand-made notes for the score tests."""

from __future__ import annotations

from rtgen.events import Note


def line(*pitches: int, step: float = 0.5, start: float = 0.0) -> list[Note]:
    """A legato line: one note every ``step`` beats."""
    return [Note(start + i * step, start + (i + 1) * step, p) for i, p in enumerate(pitches)]


def notes(*spec: tuple[float, float, int]) -> list[Note]:
    """Notes from (start, end, pitch) triples."""
    return [Note(s, e, p) for s, e, p in spec]
