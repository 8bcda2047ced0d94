"""The player's side: raw MIDI in, held keys tracked, note events out (role: player).

``Listener.feed(message, t_ns)`` is called by the engine thread with what the rtmidi
callback enqueued. It follows the keyboard as a musician plays it:
- a note-on with velocity 0 is a note-off;
- sustain (CC64 >= 64) keeps released notes sounding until the pedal lifts; a key is "held"
  for call-and-response only while the finger is down, but the note lasts for the model;
- keys are (channel, pitch): the same pitch held on two channels (a split, two players on
  one port) is two keys, and the call goes on until both are up; the model hears that
  pitch struck again at the second key down, and ended at the last key up;
- CC123 (all notes off) clears the tracker;
- an input channel filter (None = omni);
- a key that lost its note-off (a cable pulled mid-note, a message JACK dropped) is released,
  or call-and-response would wait for it forever. What tells it from a key held on purpose
  is the player's other activity: a key held LINE_HELD_BEATS while the player went on with
  LINE_NOTES notes around it (within an octave), each struck and released, was part of a
  line and is lost (a bass or a chord held under a melody an octave or more away is not
  touched); a key down STUCK_HELD_BEATS while nothing at all was played for
  STUCK_QUIET_BEATS is released too (a chord held for up to eight bars is kept).
Events come out stamped in beats by the timeline, for the streaming encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtgen import midi
from rtgen.engine.clock import BeatTimeline
from rtgen.events import Note, NoteEvent, Role

STUCK_HELD_BEATS = 32.0
STUCK_QUIET_BEATS = 16.0
LINE_HELD_BEATS = 4.0  # a key lost inside a line: released after this long at the least
LINE_NOTES = 6  # and this many notes of the line struck and released around it since
LINE_SEMITONES = 12  # "around": within an octave


@dataclass
class Listener:
    timeline: BeatTimeline
    channel: int | None = None  # 0-based input channel, None = all
    # (channel, pitch) -> (t_ns, vel) of the keys down
    keys_down: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    sounding: dict[int, tuple[int, int]] = field(default_factory=dict)  # incl. pedal-held
    pedal: bool = False
    last_on_ns: int | None = None
    last_off_ns: int | None = None  # last time a key went up (pedal release counts)
    call_start_ns: int | None = None  # first note-on since the model last answered
    notes: list[Note] = field(default_factory=list)  # finished player notes (beats)
    received: int = 0
    last_note_ns: int | None = None  # last note-on or note-off of any key
    stuck_released: int = 0

    def feed(self, message: tuple[int, ...], t_ns: int) -> list[NoteEvent]:
        """Note events (player role) for one raw message; other messages give []."""
        self.received += 1
        if not message:
            return []
        ch = midi.channel_of(message)
        if ch is None or (self.channel is not None and ch != self.channel):
            return []
        if len(message) < 3:
            return []
        kind = midi.kind_of(message[0])
        data1, data2 = message[1] & 0x7F, message[2] & 0x7F
        if kind in (midi.NOTE_OFF, midi.NOTE_ON):
            self.last_note_ns = t_ns
        if kind == midi.NOTE_ON and data2 > 0:
            return self._on(ch, data1, data2, t_ns)
        if kind == midi.NOTE_OFF or kind == midi.NOTE_ON:  # a note-on of velocity 0 ends it
            return self._key_up(ch, data1, t_ns)
        if kind == midi.CONTROL_CHANGE and data1 == midi.CC_SUSTAIN:
            return self._pedal(data2 >= 64, t_ns)
        if kind == midi.CONTROL_CHANGE and data1 in (midi.CC_ALL_SOUND_OFF, midi.CC_ALL_NOTES_OFF):
            return self._all_off(t_ns)
        return []

    def _beat(self, t_ns: int) -> float:
        return self.timeline.beat_at(t_ns)

    def _on(self, ch: int, pitch: int, vel: int, t_ns: int) -> list[NoteEvent]:
        out = []
        if pitch in self.sounding:  # a re-strike (e.g. under the pedal) ends the old note
            out += self._end(pitch, t_ns)
        self.keys_down[(ch, pitch)] = (t_ns, vel)
        self.sounding[pitch] = (t_ns, vel)
        self.last_on_ns = t_ns
        if self.call_start_ns is None:
            self.call_start_ns = t_ns
        out.append(NoteEvent(self._beat(t_ns), pitch, vel, Role.PLAYER))
        return out

    def _key_up(self, ch: int, pitch: int, t_ns: int) -> list[NoteEvent]:
        if self.keys_down.pop((ch, pitch), None) is None:
            return []
        self.last_off_ns = t_ns
        if self.pedal or any(p == pitch for _, p in self.keys_down):
            return []  # the pedal, or the same pitch on another channel, keeps it sounding
        return self._end(pitch, t_ns)

    def _end(self, pitch: int, t_ns: int) -> list[NoteEvent]:
        start = self.sounding.pop(pitch, None)
        if start is None:
            return []
        t0, vel = start
        self.notes.append(Note(self._beat(t0), self._beat(t_ns), pitch, vel, Role.PLAYER))
        return [NoteEvent(self._beat(t_ns), pitch, 0, Role.PLAYER)]

    def _pedal(self, down: bool, t_ns: int) -> list[NoteEvent]:
        self.pedal = down
        if down:
            return []
        out: list[NoteEvent] = []
        held = {p for _, p in self.keys_down}
        for pitch in sorted(p for p in self.sounding if p not in held):
            out += self._end(pitch, t_ns)
        if out:
            self.last_off_ns = t_ns
        return out

    def _all_off(self, t_ns: int) -> list[NoteEvent]:
        out: list[NoteEvent] = []
        for pitch in sorted(self.sounding):
            out += self._end(pitch, t_ns)
        self.keys_down.clear()
        self.pedal = False
        if out:
            self.last_off_ns = t_ns
        return out

    def release_stuck(self, now_ns: int) -> list[NoteEvent]:
        """Release keys that lost their note-off (see the module docstring)."""
        if not self.keys_down or self.last_note_ns is None:
            return []
        now = self._beat(now_ns)
        quiet = now - self._beat(self.last_note_ns) >= STUCK_QUIET_BEATS
        out: list[NoteEvent] = []
        for (ch, pitch), (t0, _) in sorted(self.keys_down.items()):
            held = now - self._beat(t0)
            lost = (quiet and held >= STUCK_HELD_BEATS) or (
                held >= LINE_HELD_BEATS and self._line_went_on(pitch, self._beat(t0))
            )
            if lost:
                self.stuck_released += 1
                out += self._key_up(ch, pitch, now_ns)
        return out

    def _line_went_on(self, pitch: int, since: float) -> bool:
        """LINE_NOTES finished notes within LINE_SEMITONES of ``pitch`` began after ``since``."""
        recent = self.notes[-4 * LINE_NOTES :]  # in the order they ended
        near = [n for n in recent if n.start > since and abs(n.pitch - pitch) <= LINE_SEMITONES]
        return len(near) >= LINE_NOTES

    @property
    def any_held(self) -> bool:
        """A key is down (the pedal alone does not count as playing)."""
        return bool(self.keys_down)

    def end_call(self) -> None:
        """The player says the call is over (a CC): keys still down no longer hold it open
        (they still sound, and their key-ups end their notes as usual)."""
        self.keys_down.clear()

    def start_new_call(self) -> None:
        """The model answered: the next note-on starts a new call."""
        self.call_start_ns = None
