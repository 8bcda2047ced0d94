"""Calls cut from MIDI files: two bars of a part's melodic line, and the true next two bars.

A part is a track, or one channel of a track that plays on several (a type 0 file). The
tracks of a file rtgen wrote (a "player" and a "model" track that take turns) are one part:
each alone is half a conversation, full of holes where the other plays. Windows start on
every second bar line (4/4), so a truth is also the next window's call. Each call and truth
is cut from its part's line (line.py): notes that start inside the window, ended at its end,
with times in beats from the window's first beat.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from rtgen import tokens as T
from rtgen.events import Note, Role
from rtgen.io.midifile import read_midi_tracks
from rtgen.score.line import melodic_line

BEATS_PER_BAR = 4  # 4/4: the grid and rtgen play's default
CALL_BARS = 2
WINDOW_BEATS = CALL_BARS * BEATS_PER_BAR  # a call and a truth are this long (8 beats)
MIN_NOTES = 3  # calls or truths with fewer notes are left out
MIN_SOUND_BEATS = 2.0  # calls with less sound than this are left out


@dataclass(frozen=True)
class Call:
    """One call with its truth; times in beats from the call's (the truth's) first beat."""

    source: str
    part: str
    bar: int  # the call's first bar in its file, counted from 1
    call: tuple[Note, ...]
    truth: tuple[Note, ...]


def read_parts(path: Path) -> list[tuple[str, list[Note]]]:
    """(name, notes) of each part of a MIDI file; raises MidiFileError as read_midi does."""
    tracks = read_midi_tracks(path)
    if any(n.role == Role.MODEL for t in tracks for n in t.notes):  # an rtgen recording
        merged = sorted(n for t in tracks for n in t.notes)
        return [("player+model", [replace(n, role=Role.PLAYER) for n in merged])]
    parts = []
    for k, track in enumerate(tracks, start=1):
        channels = sorted({n.channel for n in track.notes})
        for ch in channels:
            name = f"track {k}" if len(channels) == 1 else f"track {k} ch {ch + 1}"
            parts.append((name, [n for n in track.notes if n.channel == ch]))
    return parts


def window(line: list[Note], start: float, beats: float = WINDOW_BEATS) -> list[Note]:
    """Notes of ``line`` that start in [start, start + beats), ended there, times from start."""
    lo, hi = T.to_step(start), T.to_step(start + beats)
    return [
        replace(n, start=n.start - start, end=min(n.end, start + beats) - start)
        for n in line
        if lo <= T.to_step(n.start) < hi
    ]


def sound_beats(notes: list[Note] | tuple[Note, ...]) -> float:
    """Beats during which at least one note sounds."""
    total, reach = 0.0, float("-inf")
    for n in sorted(notes):
        if n.end > reach:
            total += n.end - max(n.start, reach)
            reach = n.end
    return total


def why_left_out(call: list[Note], truth: list[Note]) -> str | None:
    """The rule that leaves a call out (docs/score.md), or None to keep it."""
    if len(call) < MIN_NOTES or len(truth) < MIN_NOTES:
        return "fewer than 3 notes"
    if sound_beats(call) < MIN_SOUND_BEATS:
        return "under 2 beats of sound"
    if len({n.pitch for n in call}) < 2:
        return "a single pitch"
    return None


def cut_calls(source: str, part: str, notes: list[Note]) -> tuple[list[Call], Counter]:
    """Every call of one part with its truth, and why the others were left out."""
    line = melodic_line(notes)
    kept: list[Call] = []
    left_out: Counter = Counter()
    end = max((n.end for n in line), default=0.0)
    start = 0.0
    while start + WINDOW_BEATS < end:
        call, truth = window(line, start), window(line, start + WINDOW_BEATS)
        reason = why_left_out(call, truth)
        if reason is None:
            bar = int(start // BEATS_PER_BAR) + 1
            kept.append(Call(source, part, bar, tuple(call), tuple(truth)))
        else:
            left_out[reason] += 1
        start += WINDOW_BEATS
    return kept, left_out
