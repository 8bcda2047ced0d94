"""The port contracts, and a fake output port that records what it is sent.

The engine (scheduler, panic) speaks only to :class:`OutputPort`; the live loop
(``rtgen.live``) also to :class:`LiveOutputPort` and :class:`InputPort`, which say what it
uses: the API name (for the send-ahead), hot-plug (``is_present`` / ``reconnect``), and the
input's queue (``get``, ``dropped``). ``rtgen.io.ports`` fills them in with rtmidi; tests use
:class:`FakeOutputPort` and scripted inputs. Messages are raw MIDI bytes as a tuple of
ints, e.g. ``(0x90, 60, 100)`` (note-on, channel 1, middle C, velocity 100).

Contract (as mido's ``BaseOutput``): ``close()`` twice is safe; a closed port refuses to send;
a port that vanished (cable pulled, synth quit) raises from ``send``. Outputs that buffer
(JACK delivers once per period) must be flushed by the caller before ``close``: the
scheduler's ``panic`` waits ``flush_s`` for exactly that reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from rtgen.errors import RtgenError
from rtgen.midi import Message


class PortVanishedError(RtgenError):
    """An output port that can no longer be sent to (closed, disconnected, or gone)."""


@runtime_checkable
class OutputPort(Protocol):
    """Where the engine sends raw MIDI messages."""

    name: str

    def send(self, message: Message) -> None:
        """Send one raw MIDI message now; raises if the port is closed or gone."""
        ...

    def close(self) -> None:
        """Release the port; a second call does nothing."""
        ...


class HotPlug(Protocol):
    """A port that may go away and come back (a cable, a synth that quits)."""

    def is_present(self) -> bool:
        """Connected: whether the peer is still listed. Gone: whether ``reconnect`` would
        find it again. Cheap enough to call five times a second."""
        ...

    def reconnect(self) -> None:
        """Open the port again; raises PortVanishedError while it is not back."""
        ...


@runtime_checkable
class LiveOutputPort(OutputPort, HotPlug, Protocol):
    """The output as the live loop uses it: an OutputPort that knows its MIDI API (a JACK
    output is sent to half a period early) and can be lost and found again."""

    api: str


@runtime_checkable
class InputPort(HotPlug, Protocol):
    """Where the live loop reads the player: stamped messages from a bounded queue."""

    name: str

    @property
    def dropped(self) -> int:
        """Messages lost because the queue was full (a flood): keys may be stuck down."""
        ...

    def get(self, timeout: float | None = None) -> tuple[Message, int] | None:
        """The oldest ``(message, t_ns)``, waiting up to ``timeout`` s; None when none came."""
        ...

    def close(self) -> None:
        """Release the port; a second call does nothing."""
        ...


def _perf_ns() -> int:
    return time.perf_counter_ns()


class FakeOutputPort:
    """An :class:`OutputPort` that records ``(t_ns, message)`` for every message it accepts.

    ``clock`` is anything with ``now_ns()`` (a FakeClock in exact tests); without one the
    stamps are ``time.perf_counter_ns()``. To simulate a port that disappears, pass
    ``fail_after=N`` (the sends after the first N raise), optionally ``fail_count=K`` (only K
    sends raise, then the port works again: a transient error), or call :meth:`vanish`.
    Thread-safe: the scheduler thread sends while a test reads :attr:`sent`. A
    :class:`LiveOutputPort` too: a vanished fake is not present until ``reconnect``.
    """

    api = "fake"

    def __init__(
        self,
        name: str = "fake",
        clock: object | None = None,
        fail_after: int | None = None,
        fail_count: int | None = None,
    ) -> None:
        self.name = name
        self._now: Callable[[], int] = clock.now_ns if clock is not None else _perf_ns
        self._fail_after = fail_after
        self._fail_left = fail_count
        self._vanished: BaseException | None = None
        self._lock = threading.Lock()
        self._sent: list[tuple[int, Message]] = []
        self.failed: list[Message] = []  # messages whose send raised
        self.closed = False
        self.close_calls = 0

    def send(self, message: Message) -> None:
        """Record ``message`` with the clock's time, or raise as configured."""
        with self._lock:
            if self.closed:
                raise PortVanishedError(f"port {self.name!r} is closed")
            exc = self._failure()
            if exc is not None:
                self.failed.append(tuple(message))
                raise exc
            self._sent.append((self._now(), tuple(message)))

    def _failure(self) -> BaseException | None:
        if self._vanished is not None:
            return self._vanished
        if self._fail_after is None or len(self._sent) < self._fail_after:
            return None
        if self._fail_left is None:
            return PortVanishedError(f"port {self.name!r} vanished")
        if self._fail_left > 0:
            self._fail_left -= 1
            return PortVanishedError(f"port {self.name!r}: transient send error")
        return None

    def vanish(self, exc: BaseException | None = None) -> None:
        """Make every later send raise ``exc`` (default: PortVanishedError)."""
        with self._lock:
            self._vanished = exc or PortVanishedError(f"port {self.name!r} vanished")

    def close(self) -> None:
        """Close the port; closing twice is safe."""
        with self._lock:
            self.close_calls += 1
            self.closed = True

    def is_present(self) -> bool:
        with self._lock:
            return not self.closed and self._vanished is None

    def reconnect(self) -> None:
        """The cable is back: sends work again (a closed port stays closed)."""
        with self._lock:
            if self.closed:
                raise PortVanishedError(f"port {self.name!r} is closed")
            self._vanished = None

    @property
    def sent(self) -> list[tuple[int, Message]]:
        """A copy of everything accepted so far, as ``(t_ns, message)`` in send order."""
        with self._lock:
            return list(self._sent)

    def messages(self) -> list[Message]:
        """The accepted messages without their times."""
        return [m for _, m in self.sent]

    def __enter__(self) -> FakeOutputPort:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"FakeOutputPort({self.name!r}, {state}, {len(self._sent)} sent)"
