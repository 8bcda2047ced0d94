"""MIDI's messages as rtgen uses them: one table of status bytes and data-byte counts, and
the one validator every part reads (as mido's ``messages/specs.py`` is one list that
decoding and checking both read).

A message is raw bytes as a tuple of ints, e.g. ``(0x90, 60, 100)``: note-on, channel 1
(0-based 0), middle C, velocity 100. A status byte is 0x80-0xFF; a data byte 0x00-0x7F.
Channel messages carry their channel in the low nibble of the status; :data:`DATA_BYTES`
holds them by their kind (the high nibble), system messages by their whole status byte.
"""

from __future__ import annotations

Message = tuple[int, ...]

# Channel messages, by kind (status & 0xF0)
NOTE_OFF = 0x80
NOTE_ON = 0x90
POLY_PRESSURE = 0xA0
CONTROL_CHANGE = 0xB0
PROGRAM_CHANGE = 0xC0
CHANNEL_PRESSURE = 0xD0
PITCH_BEND = 0xE0
# System messages, by status
SYSEX = 0xF0
TIME_CODE = 0xF1
SONG_POSITION = 0xF2
SONG_SELECT = 0xF3
TUNE_REQUEST = 0xF6
CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
ACTIVE_SENSING = 0xFE

# Controllers rtgen sends or reads
CC_SUSTAIN = 64
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123

#: Data bytes after each status rtgen can use: channel kinds, then system statuses. Left out
#: on purpose: SysEx (no fixed length; the input port drops it), the undefined statuses
#: (0xF4, 0xF5, 0xF9, 0xFD), a stray 0xF7, active sensing (dropped at the port) and system
#: reset (never acted on). A message with such a status is not one rtgen can use.
DATA_BYTES: dict[int, int] = {
    NOTE_OFF: 2,
    NOTE_ON: 2,
    POLY_PRESSURE: 2,
    CONTROL_CHANGE: 2,
    PROGRAM_CHANGE: 1,
    CHANNEL_PRESSURE: 1,
    PITCH_BEND: 2,
    TIME_CODE: 1,
    SONG_POSITION: 2,
    SONG_SELECT: 1,
    TUNE_REQUEST: 0,
    CLOCK: 0,
    START: 0,
    CONTINUE: 0,
    STOP: 0,
}
#: The messages of a MIDI clock (and its song position) that a follower reads.
CLOCK_STATUSES = frozenset({CLOCK, START, CONTINUE, STOP, SONG_POSITION})
#: Dropped by the input port before they are queued (see rtgen.io.ports_rtmidi).
DISCARDED = frozenset({SYSEX, ACTIVE_SENSING})


def kind_of(status: int) -> int:
    """A channel message's kind (``status & 0xF0``); a system message's whole status."""
    return status & 0xF0 if status < SYSEX else status


def well_formed(message: Message) -> bool:
    """A whole message rtgen can use: a status byte from :data:`DATA_BYTES`, then exactly its
    data bytes, each below 0x80. The one rule for the input and for what is scheduled."""
    if not message or not 0x80 <= message[0] <= 0xFF:
        return False
    if any(not 0 <= b < 0x80 for b in message[1:]):
        return False
    return len(message) == DATA_BYTES.get(kind_of(message[0]), -2) + 1


def checked(message: Message) -> Message:
    """``message`` as a tuple of ints, or ValueError when it is not :func:`well_formed`."""
    message = tuple(int(b) for b in message)
    if not well_formed(message):
        raise ValueError(f"not a raw MIDI message: {message!r}")
    return message


def note_on(channel: int, pitch: int, velocity: int) -> Message:
    return (NOTE_ON | channel, pitch, velocity)


def note_off(channel: int, pitch: int) -> Message:
    return (NOTE_OFF | channel, pitch, 0)


def control_change(channel: int, control: int, value: int) -> Message:
    return (CONTROL_CHANGE | channel, control, value)


def is_note(message: Message) -> bool:
    """A note-on or a note-off (three bytes)."""
    return len(message) == 3 and message[0] & 0xF0 in (NOTE_OFF, NOTE_ON)


def is_note_on(message: Message) -> bool:
    """A note-on with velocity > 0 (a note-on with velocity 0 is a note-off)."""
    return len(message) >= 3 and message[0] & 0xF0 == NOTE_ON and message[2] > 0


def is_note_off(message: Message) -> bool:
    """A note-off, or a note-on with velocity 0."""
    if len(message) < 3:
        return False
    kind = message[0] & 0xF0
    return kind == NOTE_OFF or (kind == NOTE_ON and message[2] == 0)


def is_control(message: Message, *controls: int) -> bool:
    """A control change (of one of ``controls``, when given)."""
    return (
        len(message) >= 2
        and message[0] & 0xF0 == CONTROL_CHANGE
        and (not controls or message[1] in controls)
    )


def channel_of(message: Message) -> int | None:
    """The channel (0..15) of a channel message; None for system messages."""
    if not message or not 0x80 <= message[0] < SYSEX:
        return None
    return message[0] & 0x0F


PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """Scientific pitch name, ``60 -> "C4"``, ``61 -> "C#4"`` (MIDI 60 is middle C)."""
    return f"{PITCH_CLASSES[pitch % 12]}{pitch // 12 - 1}"


_LETTER_PCS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_pitch_name(text: str) -> int | None:
    """The MIDI pitch of a scientific name, ``"C4" -> 60``, ``"F#3" -> 54``, ``"Bb2" -> 46``,
    ``"C-1" -> 0``; None when ``text`` is not one (or lies outside 0..127)."""
    text = text.strip()
    if not text or text[0].upper() not in _LETTER_PCS:
        return None
    pc, rest = _LETTER_PCS[text[0].upper()], text[1:]
    while rest[:1] in ("#", "b"):
        pc += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    try:
        octave = int(rest)
    except ValueError:
        return None
    pitch = (octave + 1) * 12 + pc
    return pitch if 0 <= pitch <= 127 else None
