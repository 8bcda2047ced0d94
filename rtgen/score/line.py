"""The melodic line of a part: the highest sounding note at each moment.

A note the line covers only in part gives the line that part: a lower note that sounds on
after a higher one ends enters the line there (from that moment it is the highest sounding
note). Pieces of one note that follow each other stay one note, so a held note stays held.
"""

from __future__ import annotations

from dataclasses import replace

from rtgen.events import Note


def melodic_line(notes: list[Note]) -> list[Note]:
    """The highest sounding note at each moment, as notes in time order (no overlaps)."""
    if not notes:
        return []
    times = sorted({n.start for n in notes} | {n.end for n in notes})
    order = sorted(range(len(notes)), key=lambda i: notes[i].start)
    active: set[int] = set()
    pieces: list[list] = []  # [note index, start, end]
    j = 0
    for t, t_next in zip(times, times[1:]):
        active = {i for i in active if notes[i].end > t}
        while j < len(order) and notes[order[j]].start <= t:
            if notes[order[j]].end > t:
                active.add(order[j])
            j += 1
        if not active:
            continue
        last = pieces[-1][0] if pieces and pieces[-1][2] == t else None
        # the highest pitch; of two notes on one pitch, the one already in the line
        top = max(active, key=lambda i: (notes[i].pitch, i == last, -notes[i].start))
        if top == last:
            pieces[-1][2] = t_next
        else:
            pieces.append([top, t, t_next])
    return [replace(notes[i], start=s, end=e) for i, s, e in pieces]
