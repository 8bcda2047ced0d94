"""Round-trip fidelity: how many notes survive notes -> tokens -> notes.

A note is recalled when a decoded note has the same pitch, an onset within half a grid step
and a duration within one grid step (the issue's definition). Each decoded note is used once.
"""

from __future__ import annotations

from bisect import bisect_left

from rtgen.events import Note
from rtgen.tokens import GRID_STEPS_PER_BEAT, decode_tokens, encode_notes

HALF_STEP = 0.5 / GRID_STEPS_PER_BEAT
ONE_STEP = 1.0 / GRID_STEPS_PER_BEAT
EPS = 1e-9


def recalled_notes(original: list[Note], decoded: list[Note]) -> int:
    """Count original notes matched by a decoded note (same pitch, onset, duration)."""
    by_pitch: dict[int, list[Note]] = {}
    for d in sorted(decoded):
        by_pitch.setdefault(d.pitch, []).append(d)
    used: set[int] = set()
    hits = 0
    for n in sorted(original):
        cands = by_pitch.get(n.pitch, [])
        starts = [c.start for c in cands]
        i = bisect_left(starts, n.start - HALF_STEP - EPS)
        while i < len(cands) and cands[i].start <= n.start + HALF_STEP + EPS:
            c = cands[i]
            dur_ok = abs((c.end - c.start) - (n.end - n.start)) <= ONE_STEP + EPS
            if id(c) not in used and dur_ok:
                used.add(id(c))
                hits += 1
                break
            i += 1
    return hits


def roundtrip(notes: list[Note]) -> tuple[list[int], int]:
    """(tokens, recalled note count) for one piece."""
    tokens = encode_notes(notes)
    return tokens, recalled_notes(notes, decode_tokens(tokens))
