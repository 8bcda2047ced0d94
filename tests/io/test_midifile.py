"""Reading and writing MIDI files (rtgen/io/midifile.py), on real files made with mido."""

from __future__ import annotations

import random
from pathlib import Path

import mido
import pytest

from rtgen.errors import MidiFileError
from rtgen.events import Note, Role
from rtgen.io.midifile import Piece, ReadOptions, read_midi, write_midi
from rtgen.tokens import GRID_STEPS_PER_BEAT, encode_notes

PPQ = 96


def on(note: int, vel: int = 100, t: int = 0, ch: int = 0) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=vel, time=t, channel=ch)


def off(note: int, t: int = 0, ch: int = 0) -> mido.Message:
    return mido.Message("note_off", note=note, velocity=0, time=t, channel=ch)


def pedal(value: int, t: int = 0, ch: int = 0) -> mido.Message:
    return mido.Message("control_change", control=64, value=value, time=t, channel=ch)


def tempo(bpm: float, t: int = 0) -> mido.MetaMessage:
    return mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=t)


def save(path: Path, *tracks: list, type_: int = 1, ppq: int = PPQ) -> Path:
    """Write a MIDI file of the given tracks (lists of messages with delta times)."""
    mid = mido.MidiFile(type=type_, ticks_per_beat=ppq)
    for msgs in tracks:
        mid.tracks.append(mido.MidiTrack(msgs))
    mid.save(str(path))
    return path


def spans(piece: Piece) -> list[tuple[float, float, int]]:
    return [(n.start, n.end, n.pitch) for n in piece.notes]


# --- file types, tracks, channels, tempo ----------------------------------------------


def test_type0_file_merges_channels_in_one_track(tmp_path: Path) -> None:
    """A type 0 file's notes on several channels are read in beats with their channels."""
    track = [tempo(100), on(60), on(64, 70, 0, ch=3), off(60, PPQ), off(64, PPQ // 2, ch=3)]
    piece = read_midi(save(tmp_path / "t0.mid", track, type_=0))
    assert piece.notes == [
        Note(0.0, 1.0, 60, 100, Role.PLAYER, 0),
        Note(0.0, 1.5, 64, 70, channel=3),
    ]
    assert piece.tempos == [(0.0, pytest.approx(100.0))]
    assert piece.title == "t0" and piece.source.endswith("t0.mid")


def test_type1_file_merges_tracks_sorted_by_time(tmp_path: Path) -> None:
    """A type 1 file's tracks are merged into one list of notes sorted by start."""
    meta = [tempo(120)]
    melody = [on(72, t=PPQ), off(72, PPQ), on(74), off(74, PPQ)]
    bass = [on(36, ch=1), off(36, 4 * PPQ, ch=1)]
    piece = read_midi(save(tmp_path / "t1.mid", meta, melody, bass))
    assert spans(piece) == [(0.0, 4.0, 36), (1.0, 2.0, 72), (2.0, 3.0, 74)]
    assert [n.channel for n in piece.notes] == [1, 0, 0]
    assert piece.duration_beats == 4.0


def test_tempo_map_gives_seconds_and_beats_stay_ticks_over_ppq(tmp_path: Path) -> None:
    """Beats are ticks/PPQ whatever the tempo; seconds_at follows the tempo map."""
    meta = [tempo(120), tempo(60, 4 * PPQ), tempo(240, 2 * PPQ)]
    notes = [on(60, t=5 * PPQ), off(60, 2 * PPQ)]  # beats 5..7, across the second change
    piece = read_midi(save(tmp_path / "tempo.mid", meta, notes))
    assert spans(piece) == [(5.0, 7.0, 60)]
    assert [b for b, _ in piece.tempos] == [0.0, 4.0, 6.0]
    assert [bpm for _, bpm in piece.tempos] == pytest.approx([120.0, 60.0, 240.0])
    assert piece.seconds_at(0.0) == 0.0
    assert piece.seconds_at(4.0) == pytest.approx(2.0)
    assert piece.seconds_at(5.0) == pytest.approx(3.0)
    assert piece.seconds_at(7.0) == pytest.approx(4.25)


def test_missing_or_late_first_tempo_means_120_bpm_from_the_start(tmp_path: Path) -> None:
    """Before the first tempo event (or with none) the tempo is the MIDI default, 120 BPM."""
    late = read_midi(save(tmp_path / "late.mid", [tempo(60, 2 * PPQ)], [on(60), off(60, PPQ)]))
    assert late.tempos[0] == (0.0, 120.0) and late.seconds_at(3.0) == pytest.approx(2.0)
    none = read_midi(save(tmp_path / "none.mid", [on(60), off(60, PPQ)], type_=0))
    assert none.tempos == [(0.0, 120.0)]


def test_of_two_tempo_changes_at_one_tick_the_later_wins(tmp_path: Path) -> None:
    """Two set_tempo events at the same tick: the one later in the file is in force."""
    piece = read_midi(save(tmp_path / "two.mid", [tempo(240), tempo(60)], [on(60), off(60, PPQ)]))
    assert piece.seconds_at(1.0) == pytest.approx(1.0)


# --- note pairing rules -----------------------------------------------------------------


def test_note_on_with_velocity_zero_is_a_note_off(tmp_path: Path) -> None:
    """A note_on with velocity 0 ends the note, like a note_off."""
    track = [on(60), on(60, vel=0, t=PPQ), on(62, 50), on(62, vel=0, t=PPQ // 4)]
    piece = read_midi(save(tmp_path / "vel0.mid", track, type_=0))
    assert spans(piece) == [(0.0, 1.0, 60), (1.0, 1.25, 62)]
    assert [n.velocity for n in piece.notes] == [100, 50]


def test_overlapping_notes_of_one_pitch_on_one_channel(tmp_path: Path) -> None:
    """A second note-on of a sounding pitch ends the first; the extra note-off is ignored."""
    track = [on(60, 90), on(60, 40, PPQ), off(60, PPQ), off(60, PPQ)]
    piece = read_midi(save(tmp_path / "overlap.mid", track, type_=0))
    assert spans(piece) == [(0.0, 1.0, 60), (1.0, 2.0, 60)]
    assert [n.velocity for n in piece.notes] == [90, 40]


def test_unison_of_two_voices_in_one_track_is_one_note(tmp_path: Path) -> None:
    """Two note-ons of one pitch on one tick (two voices in unison) make one, louder note."""
    track = [on(64, 70), on(64, 90), off(64, PPQ), off(64, PPQ)]
    piece = read_midi(save(tmp_path / "unison.mid", track, type_=0))
    assert [(n.start, n.end, n.velocity) for n in piece.notes] == [(0.0, 1.0, 90)]


def test_one_pitch_on_two_channels_overlaps_freely(tmp_path: Path) -> None:
    """Notes of one pitch on different channels are paired per channel."""
    track = [on(60, ch=0), on(60, t=PPQ, ch=1), off(60, PPQ, ch=0), off(60, PPQ, ch=1)]
    piece = read_midi(save(tmp_path / "chans.mid", track, type_=0))
    assert [(n.start, n.end, n.channel) for n in piece.notes] == [(0.0, 2.0, 0), (1.0, 3.0, 1)]


def test_zero_length_and_unterminated_notes_are_kept(tmp_path: Path) -> None:
    """A note-off on its note-on's tick gives one tick; an unended note ends with its track."""
    track = [on(60), off(60), on(62, t=PPQ), mido.MetaMessage("text", text="x", time=3 * PPQ)]
    piece = read_midi(save(tmp_path / "short.mid", track, type_=0))
    assert spans(piece) == [(0.0, 1 / PPQ, 60), (1.0, 4.0, 62)]


def test_sustain_pedal_extends_released_notes_only_when_asked(tmp_path: Path) -> None:
    """With sustain=True a note released under CC64 >= 64 lasts until the pedal lifts."""
    track = [pedal(127), on(60), off(60, PPQ), on(64), off(64, PPQ), pedal(0, PPQ)]
    track += [on(67), off(67, PPQ)]  # after the pedal: not extended
    path = save(tmp_path / "pedal.mid", track, type_=0)
    assert spans(read_midi(path)) == [(0.0, 1.0, 60), (1.0, 2.0, 64), (3.0, 4.0, 67)]
    held = read_midi(path, ReadOptions(sustain=True))
    assert spans(held) == [(0.0, 3.0, 60), (1.0, 3.0, 64), (3.0, 4.0, 67)]


def test_sustain_restrike_under_the_pedal_ends_the_held_note(tmp_path: Path) -> None:
    """A pitch struck again while the pedal holds it ends the held note at the new strike."""
    track = [pedal(100), on(60), off(60, PPQ), on(60, t=PPQ), off(60, PPQ), pedal(10, PPQ)]
    piece = read_midi(save(tmp_path / "restrike.mid", track, type_=0), ReadOptions(sustain=True))
    assert spans(piece) == [(0.0, 2.0, 60), (2.0, 4.0, 60)]


def test_pedal_on_one_channel_does_not_hold_another(tmp_path: Path) -> None:
    """The sustain pedal holds notes of its own channel only."""
    track = [pedal(127, ch=1), on(60), off(60, PPQ), pedal(0, 2 * PPQ, ch=1)]
    piece = read_midi(save(tmp_path / "pch.mid", track, type_=0), ReadOptions(sustain=True))
    assert spans(piece) == [(0.0, 1.0, 60)]


def test_drums_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    """Channel 10 (index 9) is dropped by default and kept, on channel 9, with drums=True."""
    keys = [on(60), off(60, PPQ)]
    drums = [on(36, ch=9), off(36, PPQ // 2, ch=9), on(38, ch=9), off(38, PPQ // 2, ch=9)]
    path = save(tmp_path / "drums.mid", [tempo(120)], keys, drums)
    assert spans(read_midi(path)) == [(0.0, 1.0, 60)]
    with_drums = read_midi(path, ReadOptions(drums=True))
    assert spans(with_drums) == [(0.0, 0.5, 36), (0.0, 1.0, 60), (0.5, 1.0, 38)]
    assert {n.channel for n in with_drums.notes if n.pitch != 60} == {9}


# --- writing ------------------------------------------------------------------------------


def test_write_then_read_keeps_notes_roles_and_tempo(tmp_path: Path) -> None:
    """write_midi -> read_midi gives back on-grid notes exactly, the model track as MODEL."""
    g = GRID_STEPS_PER_BEAT
    player = [Note(s / g, (s + 5) / g, 60 + s % 12, 64) for s in range(0, 96, 7)]
    model = [Note(s / g, (s + 3) / g, 48 + s % 5, 99, Role.MODEL, 1) for s in range(1, 90, 4)]
    touching = [Note(10.0, 11.0, 40), Note(11.0, 12.0, 40)]
    notes = player + model + touching
    path = tmp_path / "out.mid"
    write_midi(notes, path, bpm=90)
    piece = read_midi(path)
    assert piece.notes == sorted(notes)
    assert piece.tempos == [(0.0, pytest.approx(90.0))]
    assert {n.role for n in piece.notes} == {Role.PLAYER, Role.MODEL}
    assert encode_notes(piece.notes) == encode_notes(notes)
    names = [t.name for t in mido.MidiFile(str(path)).tracks if t.name]
    assert names == ["player", "model"]


def test_write_gives_zero_length_notes_one_tick(tmp_path: Path) -> None:
    """A zero-length note is written one tick long, so it survives a round trip."""
    write_midi([Note(1.0, 1.0, 60)], tmp_path / "z.mid")
    (note,) = read_midi(tmp_path / "z.mid").notes
    assert note.start == 1.0 and note.end > note.start


# --- bad input: one line, with the reason -----------------------------------------------


def one_line_error(path: Path, reason: str, options: ReadOptions | None = None) -> str:
    with pytest.raises(MidiFileError) as info:
        read_midi(path, options)
    message = info.value.format_message()
    assert "\n" not in message and message.startswith(str(path))
    assert reason in message
    return message


def good_file(tmp_path: Path) -> Path:
    track = [tempo(120)] + [m for p in range(60, 72) for m in (on(p), off(p, PPQ // 2))]
    return save(tmp_path / "good.mid", track, type_=0)


def test_truncated_file_is_an_error(tmp_path: Path) -> None:
    """A file cut off in the middle of a track raises 'truncated'."""
    data = good_file(tmp_path).read_bytes()
    bad = tmp_path / "cut.mid"
    bad.write_bytes(data[: len(data) - 9])
    one_line_error(bad, "truncated MIDI file")


def test_every_truncation_point_is_an_error(tmp_path: Path) -> None:
    """However short a prefix of a MIDI file is, reading it raises MidiFileError."""
    data = good_file(tmp_path).read_bytes()
    bad = tmp_path / "prefix.mid"
    for n in range(1, len(data) - 1):
        bad.write_bytes(data[:n])
        with pytest.raises(MidiFileError):
            read_midi(bad)


def test_non_midi_file_is_an_error(tmp_path: Path) -> None:
    """A file without the MThd header raises 'not a MIDI file'."""
    bad = tmp_path / "song.mid"
    bad.write_text("X:1\nT:not midi\nK:G\nGABc|\n")
    one_line_error(bad, "not a MIDI file")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """A zero-byte file raises 'empty file'."""
    bad = tmp_path / "empty.mid"
    bad.write_bytes(b"")
    one_line_error(bad, "empty file")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist raises 'no such file'."""
    one_line_error(tmp_path / "nope.mid", "no such file")


def test_drums_only_file_is_an_error_unless_drums_are_kept(tmp_path: Path) -> None:
    """A file with only channel-10 notes raises 'only drums' and reads with drums=True."""
    path = save(tmp_path / "kit.mid", [on(36, ch=9), off(36, PPQ, ch=9)], type_=0)
    message = one_line_error(path, "only drums")
    assert "drums=True" in message
    assert spans(read_midi(path, ReadOptions(drums=True))) == [(0.0, 1.0, 36)]


def test_file_without_notes_is_an_error(tmp_path: Path) -> None:
    """A valid file that holds no notes at all raises 'no notes'."""
    one_line_error(save(tmp_path / "silent.mid", [tempo(120), pedal(127)], type_=0), "no notes")


@pytest.mark.parametrize("micros", [1, 0, 0xFFFFFF])
def test_absurd_tempo_is_an_error(tmp_path: Path, micros: int) -> None:
    """A tempo outside 5..1000 BPM (1 µs, 0 µs or 16.7 s per beat) raises 'absurd tempo'."""
    meta = [mido.MetaMessage("set_tempo", tempo=micros, time=0)]
    path = save(tmp_path / "fast.mid", meta, [on(60), off(60, PPQ)])
    one_line_error(path, "absurd tempo")


def test_type2_file_is_an_error(tmp_path: Path) -> None:
    """A type 2 file (independent sequences) raises 'not supported'."""
    path = save(tmp_path / "t2.mid", [on(60), off(60, PPQ)], [on(62), off(62, PPQ)], type_=2)
    one_line_error(path, "type 2")


def test_random_corruption_raises_only_midi_file_errors(tmp_path: Path) -> None:
    """Seeded random byte damage either reads or raises a one-line MidiFileError, nothing else."""
    data = good_file(tmp_path).read_bytes()
    rng = random.Random(1234)
    bad = tmp_path / "fuzz.mid"
    for _ in range(300):
        b = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(4, len(b))] = rng.randrange(256)
        bad.write_bytes(bytes(b))
        try:
            read_midi(bad)
        except MidiFileError as err:
            assert "\n" not in err.format_message()
