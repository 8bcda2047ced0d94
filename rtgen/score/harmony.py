"""`rtgen score --harmony`: how well answers keep to a held chord (docs/harmony.md).

harmony ratio: the share of the answer's notes, weighted by duration, whose pitch class is
a tone of the chord sounding at their onset; "strong": the same for the notes whose onset
falls on a beat (the nearest grid step is the beat's first). "after a change": for each
chord change while the model plays, whether its first note starting at least one grid step
after the change is a tone of the new chord.

Each item of the held-chord set (harmonyset.py) is answered through the real engine
offline with --split C4, steering on (play's default strength) and off (--harmony 0),
seed by seed.
"""

from __future__ import annotations

import time

from tqdm import tqdm

from rtgen import tokens as T
from rtgen.config import PlaySettings
from rtgen.events import Note
from rtgen.jam import jam_offline
from rtgen.score.harmonyset import BEATS, SPLIT, ChordSpan, Item, chord_at, harmony_set
from rtgen.score.runner import mean_of

G = T.GRID_STEPS_PER_BEAT


def _fits(note: Note, chords: tuple[ChordSpan, ...]) -> bool | None:
    chord = chord_at(chords, note.start)
    return None if chord is None else note.pitch % 12 in chord.tones


def harmony_ratio(notes: list[Note], chords: tuple[ChordSpan, ...]) -> dict[str, float | None]:
    """{"overall", "strong"}: duration-weighted share of chord tones (None: no notes)."""
    out: dict[str, float | None] = {}
    for part, keep in (("overall", lambda n: True), ("strong", _on_beat)):
        fit = total = 0.0
        for n in notes:
            ok = _fits(n, chords)
            if ok is None or not keep(n):
                continue
            length = max(n.end - n.start, 1.0 / G)
            total += length
            fit += length if ok else 0.0
        out[part] = fit / total if total else None
    return out


def _on_beat(note: Note) -> bool:
    return T.to_step(note.start) % G == 0


def after_changes(notes: list[Note], chords: tuple[ChordSpan, ...]) -> list[bool]:
    """For each chord change inside the answer: its first note from one grid step after
    the change on (and before the next change) fits the new chord."""
    if not notes:
        return []
    first, last = min(n.start for n in notes), max(n.start for n in notes)
    out = []
    for c in chords[1:]:
        if not first < c.start < last:
            continue
        later = [n for n in notes if c.start + 1.0 / G - 1e-6 <= n.start < c.end]
        if later:
            n = min(later, key=lambda n: (n.start, n.pitch))
            out.append(n.pitch % 12 in chord_at(chords, n.start).tones)
    return out


def answer(session, item: Item, seed: int, strength: float) -> list[Note]:
    """rtgen's answer to ``item`` (play's defaults, --split C4, --harmony ``strength``):
    times in beats from the call's first beat."""
    session.reset()
    settings = PlaySettings(seed=seed, split=str(SPLIT), harmony=strength).validate()
    res = jam_offline(session, settings, seed, list(item.call) + list(item.keys), 0.0)
    return [n for n in res.model if n.start < BEATS]


def score_harmony(session, seeds: int, strength: float, progress: bool = False) -> dict:
    """Steering on (``strength``) and off, over the held-chord set, ``seeds`` seeds each."""
    t0 = time.perf_counter()
    items = harmony_set()
    runs = {"on": strength, "off": 0.0}
    rows: dict[str, dict[str, list]] = {k: {"overall": [], "strong": [], "after": []} for k in runs}
    notes = {k: 0 for k in runs}
    jobs = [(item, seed) for item in items for seed in range(seeds)]
    for item, seed in tqdm(jobs, desc="harmony", unit="answer", disable=not progress):
        for key, s in runs.items():
            ans = answer(session, item, seed, s)
            notes[key] += len(ans)
            ratio = harmony_ratio(ans, item.chords)
            rows[key]["overall"].append(ratio["overall"])
            rows[key]["strong"].append(ratio["strong"])
            rows[key]["after"] += after_changes(ans, item.chords)
    out = {}
    for key in runs:
        r = rows[key]
        out[key] = {
            "harmony_ratio": mean_of(r["overall"]),
            "harmony_strong": mean_of(r["strong"]),
            "after_change_fits": mean_of(r["after"]),
            "changes": len(r["after"]),
            "notes_per_answer": notes[key] / len(jobs),
            "silent": sum(v is None for v in r["overall"]) / len(jobs),
        }
    return {
        "items": len(items),
        "seeds": seeds,
        "strength": strength,
        "steering": out,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def render(res: dict) -> str:
    rows = (
        ("harmony_ratio", "harmony ratio (by duration)", 3),
        ("harmony_strong", "harmony ratio, notes on beats", 3),
        ("after_change_fits", "first note after a change fits", 3),
        ("notes_per_answer", "notes per answer", 1),
        ("silent", "silent answers", 2),
    )
    on, off = res["steering"]["on"], res["steering"]["off"]
    width = max(len(label) for _, label, _ in rows)
    lines = [f"{'':<{width}}{'steering on':>14}{'off':>10}"]
    for key, label, digits in rows:
        cells = "".join(
            f"{'-' if v is None else f'{v:.{digits}f}':>{w}}"
            for v, w in ((on[key], 14), (off[key], 10))
        )
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)
