"""The live output as the scheduler sees it (:class:`GuardedOutput`), and the record of what
went out (:class:`SentLog`): for ``--record`` and for the input's echo guard.

A port that disappears is noticed by the live loop's port check (``rtgen.hotplug``); until
it is back, the guard swallows sends and keeps what the synth will be owed.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

from rtgen.engine.clock import Clock
from rtgen.engine.portproto import LiveOutputPort, PortVanishedError
from rtgen.midi import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    Message,
    is_control,
    is_note,
    is_note_off,
    note_off,
)

FEEDBACK_WINDOW_NS = 30_000_000  # a message echoed back within 30 ms is our own
_OWED_CCS = (CC_SUSTAIN, CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF)


@dataclass
class SentLog:
    """What went out, for --record and for the feedback guard; thread-safe."""

    keep_model: bool = True
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=512))
    model: list = field(default_factory=list)  # (t_ns, msg) note messages (with --record)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, t_ns: int, msg: Message) -> None:
        with self.lock:
            self.recent.append((t_ns, msg))
            if self.keep_model and is_note(msg):
                self.model.append((t_ns, msg))

    def model_notes(self) -> list[tuple[int, Message]]:
        """A copy of the note messages kept for --record, as (t_ns, message)."""
        with self.lock:
            return list(self.model)

    def is_echo(self, msg: Message, t_ns: int) -> bool:
        """``msg``, arriving at ``t_ns``, is one of ours that came back (a loop in the
        routing) within FEEDBACK_WINDOW_NS."""
        with self.lock:
            for t, m in reversed(self.recent):
                if t_ns - t > FEEDBACK_WINDOW_NS:
                    return False
                if m == msg or (  # a note-off may come back as a note-on with velocity 0
                    is_note_off(m)
                    and is_note_off(msg)
                    and m[0] & 0x0F == msg[0] & 0x0F
                    and m[1] == msg[1]
                ):
                    return True
        return False


def _owable(message: Message) -> Message | None:
    """The message a returning synth is owed for ``message`` (a note-off as 0x80, CC64/120/
    123 as they are), or None for one that need not be repeated."""
    if is_note_off(message):
        return note_off(message[0] & 0x0F, message[1])
    if len(message) == 3 and is_control(message, *_OWED_CCS):
        return tuple(message)
    return None


class GuardedOutput:
    """The output as the scheduler sees it: logs every send and never raises for a port that
    vanished. While the port is away, note-offs and CC64/CC120/CC123 are owed (one of each)
    and :meth:`back` sends them first, so a synth that only lost its cable lets go.

    A peer that goes away is noticed only at the next port check: what was sent in between
    went nowhere, though the send succeeded. :meth:`away` is told when the port was last
    seen, and owes again the note-offs and CCs sent since then (the last send time of each
    is kept: at most 16 x 128 note-offs and a few CCs)."""

    def __init__(self, port: LiveOutputPort, sent: SentLog, clock: Clock) -> None:
        self.port, self.sent, self.clock = port, sent, clock
        self.name = port.name
        self.connected = True
        self.lost = 0  # sends that found the port gone
        self.owed: dict[Message, None] = {}
        self._last_sent: dict[Message, int] = {}  # owable message -> last send, ns
        self.lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self.lock:
            owable = _owable(message)
            if self.connected:
                try:
                    self.port.send(message)
                except PortVanishedError:
                    self.connected = False
                    self.lost += 1
                else:
                    now = self.clock.now_ns()
                    self.sent.add(now, message)
                    if owable is not None:
                        self._last_sent[owable] = now
                    return
            if owable is not None:
                self.owed[owable] = None

    def away(self, seen_ns: int) -> None:
        """The port is gone; it was last seen present at ``seen_ns``: what was sent since
        may never have arrived, so its note-offs and CCs are owed again."""
        with self.lock:
            self.connected = False
            for message, t in self._last_sent.items():
                if t >= seen_ns:
                    self.owed[message] = None

    def back(self) -> int:
        """The port is open again: send what is owed (note-offs first), then carry on."""
        with self.lock:
            owed = sorted(self.owed)
            for message in owed:
                self.port.send(message)
                self.sent.add(self.clock.now_ns(), message)
            self.owed.clear()
            self.connected = True
        return len(owed)

    def close(self) -> None:
        self.port.close()
