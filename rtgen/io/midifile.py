"""Read MIDI files into notes in beats, and write notes (player and model) back out.

Reading is built on mido (see README, "MIDI file reading": mido against symusic). The
rules, each one a test:
- type 0 and 1 files; all tracks and channels merged; time in beats = ticks / PPQ, so the
  tempo map only matters for seconds (kept for ``duration_s`` and for writing);
- a note-on with velocity 0 is a note-off;
- a second note-on for a sounding (channel, pitch) ends the first note there; two on the
  same tick (a unison of two voices) are one note;
- sustain pedal (CC64 >= 64) extends released notes until the pedal lifts, as an option;
- drums (channel 10, index 9) are left out unless asked for;
- truncated, empty, non-MIDI, drum-only and absurd-tempo files raise MidiFileError with a
  one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mido

from rtgen.errors import MidiFileError, RtgenError
from rtgen.events import Note, Role

DRUM_CHANNEL = 9
MIN_BPM, MAX_BPM = 5.0, 1000.0  # tempo events outside this are corrupt, not music
WRITE_PPQ = 480  # divisible by the 12-step grid: 40 ticks per step


@dataclass
class Piece:
    """Notes of one piece in beats, with its tempo map ``[(beat, bpm), ...]``."""

    notes: list[Note]
    tempos: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 120.0)])
    title: str = ""
    source: str = ""

    @property
    def duration_beats(self) -> float:
        return max((n.end for n in self.notes), default=0.0)

    def seconds_at(self, beat: float) -> float:
        """Seconds from the start to ``beat`` under the tempo map."""
        total, prev_beat, bpm = 0.0, 0.0, self.tempos[0][1]
        for t_beat, t_bpm in self.tempos:
            if t_beat >= beat:
                break
            total += (t_beat - prev_beat) * 60.0 / bpm
            prev_beat, bpm = t_beat, t_bpm
        return total + (beat - prev_beat) * 60.0 / bpm


@dataclass
class ReadOptions:
    sustain: bool = False  # extend notes while CC64 is down
    drums: bool = False  # keep channel 10


def _load(path: Path) -> mido.MidiFile:
    if not path.is_file():
        raise MidiFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MidiFileError(f"{path}: empty file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"MThd":
            raise MidiFileError(f"{path}: not a MIDI file (no MThd header)")
    try:
        return mido.MidiFile(str(path), clip=True)
    except EOFError:
        raise MidiFileError(f"{path}: truncated MIDI file") from None
    except Exception as exc:  # mido raises OSError, ValueError, KeyError on corrupt data
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MidiFileError(f"{path}: corrupt MIDI file ({reason})") from None


class _TrackNotes:
    """Pairs note-ons with note-offs for one track, with pedal and overlap rules."""

    def __init__(self, sustain: bool) -> None:
        self.sustain = sustain
        self.open: dict[tuple[int, int], tuple[int, int]] = {}  # (ch, pitch) -> (tick, vel)
        self.pedal_down: set[int] = set()
        self.held_by_pedal: set[tuple[int, int]] = set()
        self.notes: list[tuple[int, int, int, int, int]] = []  # start, end, pitch, vel, ch

    def _end(self, key: tuple[int, int], tick: int) -> None:
        start, vel = self.open.pop(key)
        self.held_by_pedal.discard(key)
        self.notes.append((start, max(tick, start + 1), key[1], vel, key[0]))

    def on(self, ch: int, pitch: int, vel: int, tick: int) -> None:
        key = (ch, pitch)
        if key in self.open:
            start, old_vel = self.open[key]
            if start == tick:  # a unison of two voices in one track: one note, the louder
                self.open[key] = (tick, max(vel, old_vel))
                return
            self._end(key, tick)
        self.open[key] = (tick, vel)

    def off(self, ch: int, pitch: int, tick: int) -> None:
        key = (ch, pitch)
        if key not in self.open:
            return
        if self.sustain and ch in self.pedal_down:
            self.held_by_pedal.add(key)
        else:
            self._end(key, tick)

    def pedal(self, ch: int, value: int, tick: int) -> None:
        if value >= 64:
            self.pedal_down.add(ch)
            return
        self.pedal_down.discard(ch)
        for key in sorted(k for k in self.held_by_pedal if k[0] == ch):
            self._end(key, tick)

    def close(self, tick: int) -> None:
        for key in sorted(self.open):
            self._end(key, tick)


def _tempo_map(mid: mido.MidiFile, path: Path) -> list[tuple[float, float]]:
    tempos: list[tuple[int, float]] = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                bpm = mido.tempo2bpm(msg.tempo) if msg.tempo > 0 else float("inf")
                if not MIN_BPM <= bpm <= MAX_BPM:
                    raise MidiFileError(
                        f"{path}: absurd tempo {bpm:.4g} BPM at tick {tick} "
                        f"(allowed {MIN_BPM:g}..{MAX_BPM:g})"
                    )
                tempos.append((tick, bpm))
    tempos.sort(key=lambda t: t[0])  # stable: of two changes at one tick the later wins
    ppq = mid.ticks_per_beat
    out = [(t / ppq, bpm) for t, bpm in tempos]
    if not out or out[0][0] > 0:
        out.insert(0, (0.0, 120.0))
    return out


def read_midi(path: str | Path, options: ReadOptions | None = None) -> Piece:
    """Read a type 0 or 1 MIDI file into a Piece; raise MidiFileError with the reason."""
    tracks = read_midi_tracks(path, options)
    notes = sorted(n for t in tracks for n in t.notes)
    first = tracks[0]
    return Piece(notes=notes, tempos=first.tempos, title=first.title, source=first.source)


def read_midi_tracks(path: str | Path, options: ReadOptions | None = None) -> list[Piece]:
    """One Piece per track that has notes (file order), by the same rules as read_midi."""
    opts = options or ReadOptions()
    path = Path(path)
    mid = _load(path)
    if mid.type == 2:
        raise MidiFileError(f"{path}: type 2 MIDI (independent sequences) is not supported")
    ppq = mid.ticks_per_beat
    if not ppq or ppq <= 0:
        raise MidiFileError(f"{path}: SMPTE time division is not supported")
    tempos = _tempo_map(mid, path)
    raw: list[list[tuple[int, int, int, int, int, Role]]] = []
    drum_notes = 0
    for track in mid.tracks:
        tn = _TrackNotes(opts.sustain)
        tick = 0
        role = Role.PLAYER
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and msg.name.strip().lower() == "model":
                role = Role.MODEL  # rtgen's own recordings name the model's track
            ch = getattr(msg, "channel", None)
            if ch == DRUM_CHANNEL and not opts.drums:
                drum_notes += msg.type == "note_on" and msg.velocity > 0
                continue
            if msg.type == "note_on" and msg.velocity > 0:
                tn.on(ch, msg.note, msg.velocity, tick)
            elif msg.type in ("note_off", "note_on"):
                tn.off(ch, msg.note, tick)
            elif msg.type == "control_change" and msg.control == 64:
                tn.pedal(ch, msg.value, tick)
        tn.close(tick)
        if tn.notes:
            raw.append([(*n, role) for n in tn.notes])
    if not raw:
        if drum_notes:
            raise MidiFileError(f"{path}: only drums (channel 10); use drums=True to keep them")
        raise MidiFileError(f"{path}: no notes")
    return [
        Piece(
            notes=sorted(Note(s / ppq, e / ppq, p, v, role, ch) for s, e, p, v, ch, role in track),
            tempos=tempos,
            title=path.stem,
            source=str(path),
        )
        for track in raw
    ]


def write_midi(
    notes: list[Note],
    path: str | Path,
    bpm: float = 120.0,
    player_channel: int = 0,
    model_channel: int = 1,
) -> None:
    """Write notes to a type 1 file: a tempo track, then one track per role that has notes."""
    mid = mido.MidiFile(type=1, ticks_per_beat=WRITE_PPQ)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    mid.tracks.append(meta)
    for role, channel in ((Role.PLAYER, player_channel), (Role.MODEL, model_channel)):
        part = [n for n in notes if n.role == role]
        if not part:
            continue
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=role.name.lower(), time=0))
        events = []
        for n in part:
            on = round(n.start * WRITE_PPQ)
            off = max(round(n.end * WRITE_PPQ), on + 1)
            events.append((on, 1, n.pitch, n.velocity))
            events.append((off, 0, n.pitch, 0))
        events.sort()  # offs (0) before ons (1) at the same tick
        now = 0
        for tick, is_on, pitch, vel in events:
            kind = "note_on" if is_on else "note_off"
            track.append(
                mido.Message(kind, note=pitch, velocity=vel, channel=channel, time=tick - now)
            )
            now = tick
        mid.tracks.append(track)
    try:
        mid.save(str(path))
    except OSError as exc:
        raise RtgenError(f"{path}: cannot write ({exc.strerror or exc})") from None
