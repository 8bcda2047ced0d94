"""NoteLedger: which notes are sounding, from the raw messages actually sent.

Every note-on that reaches a port is recorded here, so every exit path can end it:
:meth:`NoteLedger.panic_messages` gives a note-off for each sounding note, then CC64=0
(sustain off) and CC123 (all notes off) on every channel ever used, and empties the ledger.

Notes are counted per (channel, pitch): two note-ons of one pitch with one note-off between
them leave one sounding, and the panic sends two note-offs for two. MIDI cannot say which
voice a note-off ends (most synths end all voices of that pitch), so counting errs towards an
extra, harmless note-off, never towards a hanging note.

Thread-safe. The lock is re-entrant because a Python signal handler runs on the main thread
between bytecodes and may call the panic while the main thread is inside :meth:`record`.
"""

from __future__ import annotations

import threading
from collections import Counter

from rtgen.midi import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    Message,
    channel_of,
    control_change,
    is_control,
    is_note_off,
    is_note_on,
    note_off,
)


class NoteLedger:
    """Sounding notes per (channel, pitch), with counts; channels ever sent to."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._notes: Counter[tuple[int, int]] = Counter()
        self._channels: set[int] = set()

    def record(self, message: Message) -> None:
        """Update from one message that was sent to the port."""
        channel = channel_of(message)
        if channel is None:
            return
        with self._lock:
            self._channels.add(channel)
            if is_note_on(message):
                self._notes[(channel, message[1])] += 1
            elif is_note_off(message):
                key = (channel, message[1])
                if self._notes[key] > 1:
                    self._notes[key] -= 1
                else:
                    self._notes.pop(key, None)
            elif is_control(message, CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF):  # ends the channel
                for key in [k for k in self._notes if k[0] == channel]:
                    del self._notes[key]

    def sounding(self) -> set[tuple[int, int]]:
        """The (channel, pitch) pairs with at least one note sounding."""
        with self._lock:
            return set(self._notes)

    def count(self, channel: int, pitch: int) -> int:
        """How many note-ons of this pitch on this channel are not yet ended."""
        with self._lock:
            return self._notes.get((channel, pitch), 0)

    def channels_used(self) -> set[int]:
        """Every channel any channel-voice message was ever sent to."""
        with self._lock:
            return set(self._channels)

    def __len__(self) -> int:
        with self._lock:
            return sum(self._notes.values())

    def panic_messages(self, hard: bool = False) -> list[Message]:
        """Note-offs for every sounding note, then per channel used CC64=0 and CC123.

        ``hard`` adds CC120 (all sound off: also cuts release tails and reverb). The ledger
        is empty afterwards; the channels stay known, so a later panic resets them again.
        """
        with self._lock:
            offs = [
                note_off(channel, pitch)
                for (channel, pitch), n in sorted(self._notes.items())
                for _ in range(n)
            ]
            self._notes.clear()
            channels = sorted(self._channels)
        return offs + channel_resets(channels, hard)


def channel_resets(channels: list[int], hard: bool = False) -> list[Message]:
    """Per channel: sustain off (CC64=0) and all notes off (CC123), then all sound off
    (CC120) when ``hard``: the tail of every panic, rtgen's own and `rtgen panic`'s."""
    resets: list[Message] = []
    for channel in channels:
        resets.append(control_change(channel, CC_SUSTAIN, 0))
        resets.append(control_change(channel, CC_ALL_NOTES_OFF, 0))
        if hard:
            resets.append(control_change(channel, CC_ALL_SOUND_OFF, 0))
    return resets
