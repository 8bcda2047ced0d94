"""Cutting calls and truths from a part, and the filter that leaves calls out."""

from __future__ import annotations

from pathlib import Path

from rtgen.events import Note, Role
from rtgen.io.midifile import write_midi
from rtgen.score.calls import cut_calls, read_parts, sound_beats, why_left_out
from tests.score.helpers import line, notes


def test_windows_are_two_bars_and_the_truth_is_the_next_two() -> None:
    """A 24-beat line gives calls at bars 1 and 3, each with its next 8 beats as the truth."""
    part = line(*[60 + i % 5 for i in range(48)])  # an 8th-note line of 24 beats
    calls, left_out = cut_calls("f.mid", "track 1", part)
    assert [c.bar for c in calls] == [1, 3] and not left_out
    assert [n.pitch for n in calls[0].truth] == [n.pitch for n in calls[1].call]
    assert calls[1].call[0].start == 0.0 and len(calls[1].call) == 16
    assert all(0 <= n.start < 8 and n.end <= 8 for c in calls for n in c.call + c.truth)


def test_a_note_held_past_the_window_is_ended_there() -> None:
    """A note that starts in the call and sounds on into the truth is cut at beat 8."""
    part = notes((0, 1, 60), (1, 2, 62), (2, 12, 64), (12, 13, 65), (13, 14, 67), (14, 15, 69))
    (c,), _ = cut_calls("f.mid", "p", part)
    assert c.call[-1].end == 8.0
    assert [n.pitch for n in c.truth] == [65, 67, 69] and c.truth[0].start == 4.0


def test_the_filter() -> None:
    """Fewer than 3 notes (call or truth), under 2 beats of sound, one pitch: left out."""
    ok = line(60, 62, 64, step=1.0)
    assert why_left_out(ok, ok) is None
    assert why_left_out(ok[:2], ok) == "fewer than 3 notes"
    assert why_left_out(ok, ok[:2]) == "fewer than 3 notes"
    assert why_left_out(line(60, 62, 64, step=0.5), ok) == "under 2 beats of sound"
    assert why_left_out(line(60, 60, 60, step=1.0), ok) == "a single pitch"


def test_sound_counts_overlaps_once() -> None:
    """Two notes sounding together count their shared time once."""
    assert sound_beats(notes((0, 2, 60), (1, 3, 64), (5, 6, 62))) == 4.0


def test_parts_are_tracks_and_an_rtgen_recording_is_one(tmp_path: Path) -> None:
    """rtgen's own player and model tracks form one part; other tracks are parts apiece."""
    rec = tmp_path / "rec.mid"
    player = line(60, 62, step=1.0)
    model = [Note(n.start + 2, n.end + 2, n.pitch + 5, role=Role.MODEL) for n in player]
    write_midi(player + model, rec)
    ((name, part),) = read_parts(rec)
    assert name == "player+model" and [n.pitch for n in part] == [60, 62, 65, 67]
