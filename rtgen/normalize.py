"""Make a note list playable on one voice per pitch before it is tokenized.

Tokens have no channels, so two notes of one pitch that overlap (unison voices in a chorale,
the same key on two tracks) cannot both survive: the earlier one is cut where the later one
starts, and two notes struck together become one with the longer length.
"""

from __future__ import annotations

from dataclasses import replace

from rtgen.events import Note


def normalize_notes(notes: list[Note]) -> list[Note]:
    """Resolve same-pitch overlaps; returns a new sorted list."""
    by_pitch: dict[int, list[Note]] = {}
    for n in sorted(notes, key=lambda n: (n.pitch, n.start, -n.end)):
        run = by_pitch.setdefault(n.pitch, [])
        if run and n.start < run[-1].end:
            prev = run[-1]
            if n.start <= prev.start:  # struck together: keep one, with the longer length
                run[-1] = replace(prev, end=max(prev.end, n.end))
                continue
            run[-1] = replace(prev, end=n.start)
        run.append(n)
    return sorted(n for run in by_pitch.values() for n in run)
