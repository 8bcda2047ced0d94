"""Open MIDI ports with rtmidi: :class:`MidiOutput` (an OutputPort) and :class:`MidiInput`.

    with open_output("Synth", "jack") as out:        # from rtgen.io.ports
        out.send((0x90, 60, 100))
    inp = open_input("Keyboard", "jack")
    for message, t_ns in inp.poll(): ...             # t_ns: perf_counter_ns() on arrival

Threads. No Python code runs on the backend's thread (JACK's process thread): rtmidi's C++
callback only enqueues into rtmidi's own lock-free queue, and a reader thread moves messages
into a bounded deque every millisecond, stamped on ``time.perf_counter_ns()`` by an
:class:`ArrivalStamper` from rtmidi's own arrival times (see there). (A Python
callback, as python-rtmidi offers, makes JACK's real-time thread wait for the GIL. With
python-rtmidi 1.5.8 that was measured to corrupt bursts of more than ~100 messages per
period, and to crash or hang the process when the port closed while messages came in:
``close_port`` frees the callback while JACK's thread waits to call it.) ``send``,
``is_present``, ``reconnect`` and ``close`` may run on different threads: a lock per port
guards the rtmidi object, because rtmidi crashes the process when used after ``delete()``.

Hot-plug. Nothing tells rtmidi that the other end went away: on JACK a send to a port whose
peer quit succeeds and goes nowhere. So the engine calls :meth:`is_present` at least once a
second, which looks the connected port's name up in the port list. When it is missing, the
port is *vanished*: ``send`` raises PortVanishedError, and ``is_present()`` then answers
whether :meth:`reconnect` would succeed, i.e. whether the pattern names exactly one port
again (maybe a renamed ``Synth-01``). ``reconnect()`` re-opens by the same pattern on the
same rtmidi client, or raises PortVanishedError with the list of ports. Virtual ports are
ours: present until closed.

One module, over 400 lines, because it is one thing: the rtmidi backend (as mido's
``backends/rtmidi.py``). Its two port classes share one base, one lock discipline and the
rtmidi object's life cycle, and the rules above hold only if they are read together; what
is pure logic (:class:`rtgen.io.stamps.ArrivalStamper`, port matching in ``rtgen.io.ports``)
lives apart, tested without ports.

Limits (JACK; measured with jackd2 1.9.21 and python-rtmidi 1.5.8):

- A peer that quits and returns between two checks goes unnoticed: its name is listed again
  but our connection is gone. ``reconnect()`` re-opens unconditionally when in doubt.
- A JACK server that stops is not reliably seen: listings can stay as they were. Nothing
  here makes a new JACK client once a port is open, because after the server died, a
  failed attempt to make one makes libjack free the old clients, and closing an old port
  then crashes the process. Restart rtgen with the server. ``close`` is safe then (it may
  take a second: rtmidi waits for a process cycle that never comes).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import rtmidi

from rtgen.engine.portproto import PortVanishedError
from rtgen.errors import RtgenError
from rtgen.io.ports import (
    API_NAMES,
    NoSuchPortError,
    _quiet_stderr,
    _reason,
    candidate_apis,
    match_port,
    no_usable_api,
)
from rtgen.io.stamps import STAMP_SLACK_S, STAMP_WINDOW_S, ArrivalStamper
from rtgen.midi import DISCARDED, Message

#: Seconds ``MidiOutput.close`` waits before closing, so sent messages reach the peer (JACK
#: delivers once per period; rtmidi's own close waits one more). 20 ms covers two periods of
#: up to 480 frames at 48 kHz.
FLUSH_S = 0.02

#: Seconds between two reads of rtmidi's input queue (the most a stamp lags, GIL aside).
POLL_S = 0.001
RTMIDI_QUEUE = 1024  # rtmidi's own input queue, in messages (at least)

# Names (as listed) of the outputs this process has open: each is also listed as an input,
# and "--in rtgen" must not wire rtgen's output back into itself. Another rtgen's ports are
# other clients' like any. (An output may still be opened to one of our own inputs: the bench
# measures timing that way.)
_OWN_OUTPUTS: set[str] = set()
# APIs whose port names are looked up after opening (see _RtmidiPort._settle_name): JACK
# renames a second client of the same name ("rtgen-out-01"), ALSA appends client:port numbers.
_LOOKED_UP = ("jack", "alsa")
_TAGS = itertools.count()
_OPEN_ATTEMPTS = 3  # the port list may change between listing and opening (hot-plug)
WAIT_POLL_S = 0.2  # how often a port that is waited for (``waiting``) is looked for

Stamped = tuple[Message, int]  # (raw MIDI bytes, time.perf_counter_ns() on arrival)
_Port = TypeVar("_Port", bound="_RtmidiPort")


def _is_own_output(name: str) -> bool:
    """An output this process opened, by its name as listed ("rtgen-out:rtgen out", JACK's
    renamed "rtgen-out-01:rtgen out", ALSA's "rtgen-out:rtgen out 130:0")."""
    return name in _OWN_OUTPUTS


class _RtmidiPort:
    """What inputs and outputs share: a client, a name, presence, reconnect, close."""

    kind = "port"  # "input" or "output": the word match_port and messages use
    _lister: type[rtmidi.MidiIn | rtmidi.MidiOut]  # a client whose listing holds our port

    def __init__(
        self,
        pattern: str | None,
        api: str | None,
        virtual: bool,
        client_name: str,
        label: str,
        waiting: Callable[[], None] | None = None,
    ) -> None:
        self.pattern = pattern
        self.virtual = virtual
        self.client_name = client_name
        self.label = label  # our own port's name (the virtual port, or our end of the cable)
        self.own_name = f"{client_name}:{label}"  # ours as listed; see _settle_name
        self.name = self.own_name  # the peer's port name once connected
        self._lock = threading.Lock()
        self._vanished = False
        self._closed = False
        self._rt, self.api = self._new_client(api)
        try:
            self._prepare(self._rt)
            # opened under a name no other port has, to find it in a listing
            tag = f"{label} ~{os.getpid()}.{next(_TAGS)}" if self.api in _LOOKED_UP else label
            if virtual:
                self._rt.open_virtual_port(tag)
            else:
                self.name = self._open_when_there(tag, waiting)
            if tag != label:
                self.own_name = self._settle_name(tag)
            if virtual:
                self.name = self.own_name
            if self.kind == "output":
                _OWN_OUTPUTS.add(self.own_name)
        except NotImplementedError:  # e.g. winmm has no virtual ports
            self._release()
            raise RtgenError(f"the {self.api} MIDI API cannot make virtual ports") from None
        except rtmidi.RtMidiError as exc:
            self._release()
            target = label if virtual else pattern
            raise RtgenError(f"cannot open MIDI {self.kind} {target!r}: {_reason(exc)}") from None
        except BaseException:
            self._release()
            raise

    # -- hooks ------------------------------------------------------------------------------

    def _is_ours(self, name: str) -> bool:
        """A listed port this object must never connect to."""
        return False

    def _make(self, rtapi: int) -> rtmidi.MidiIn | rtmidi.MidiOut:
        raise NotImplementedError

    def _prepare(self, rt: rtmidi.MidiIn | rtmidi.MidiOut) -> None:
        """Configure a fresh client before its port opens (input: which messages to keep)."""

    def _reopened(self) -> None:
        """Runs, under the lock, after ``reconnect`` opened the port again."""

    # -- opening ----------------------------------------------------------------------------

    def _new_client(self, api: str | None) -> tuple[rtmidi.MidiIn | rtmidi.MidiOut, str]:
        # rtmidi asks libjack not to start a server; this also covers a ~/.jackdrc.
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        candidates = candidate_apis(api)
        failures = []
        for name in candidates:
            try:
                with _quiet_stderr():
                    return self._make(API_NAMES[name]), name
            except rtmidi.RtMidiError as exc:
                failures.append((name, _reason(exc)))
        raise no_usable_api(api, candidates, failures)

    def _open_when_there(self, label: str, waiting: Callable[[], None] | None) -> str:
        """``_open_matching``; with ``waiting``, a port not there yet is waited for on this
        one client, ``waiting()`` called at each look that finds none (Ctrl-C ends the
        wait). A client opened and closed for each look, while the awaited peer's client
        activates, can leave that client never scheduled (JACK 1.9.21/1.9.22): rtgen after
        a server restart lost its keyboard that way (docs/reliability.md)."""
        while True:
            try:
                return self._open_matching(label)
            except NoSuchPortError:
                if waiting is None:
                    raise
            waiting()
            time.sleep(WAIT_POLL_S)

    def _open_matching(self, label: str) -> str:
        """Open the one port the pattern names, ours named ``label``; the peer's name.
        Raises RtgenError (no/many match)."""
        for _ in range(_OPEN_ATTEMPTS):
            names = self._rt.get_ports()
            others = [i for i, name in enumerate(names) if not self._is_ours(name)]
            own = [name for name in names if self._is_ours(name)]
            pattern = self.pattern or ""
            index = others[match_port(pattern, [names[i] for i in others], self.kind, own)]
            self._rt.open_port(index, label)
            # rtmidi opens by index: make sure the list did not shift under us.
            if self._rt.get_ports()[index : index + 1] == [names[index]]:
                return names[index]
            self._rt.close_port()
        raise PortVanishedError(f"MIDI {self.kind}s kept changing while opening {self.pattern!r}")

    def _settle_name(self, tag: str) -> str:
        """Our port's name as other clients list it, then renamed from ``tag`` to the label.

        The backend may name it otherwise than asked: JACK renames a client whose name is
        taken ("rtgen-out-01", a second rtgen), ALSA appends numbers. A client of the other
        direction lists it (ours is among its ports); ``tag`` is unique, so the one listed
        name holding it is ours, even while another rtgen opens the same ports.
        """
        found: list[str] = []
        lister = None
        try:
            with _quiet_stderr():
                lister = self._lister(rtapi=API_NAMES[self.api], name="rtgen")
                found = [name for name in lister.get_ports() if f":{tag}" in name]
        except rtmidi.RtMidiError:
            pass
        finally:
            if lister is not None:
                lister.delete()
        try:
            self._rt.set_port_name(self.label)
        except (rtmidi.RtMidiError, NotImplementedError):
            self.label = tag  # it keeps the name it has: still a working port
        if len(found) != 1:
            return f"{self.client_name}:{self.label}"
        return found[0].replace(f":{tag}", f":{self.label}", 1)

    # -- hot-plug ---------------------------------------------------------------------------

    @property
    def vanished(self) -> bool:
        """True from the ``is_present()`` call that found the port gone until ``reconnect()``."""
        return self._vanished

    @property
    def closed(self) -> bool:
        return self._closed

    def is_present(self) -> bool:
        """Is the port there? Connected: its name is listed. Vanished: the pattern names one.

        The first False marks the port vanished (sends raise). Costs one port listing
        (~20 µs on JACK); call it at least once a second.
        """
        with self._lock:
            if self._closed:
                return False
            if self.virtual:
                return True
            names = self._list()
            if not self._vanished:
                if self.name in names:
                    return True
                self._vanished = True
                return False
            try:
                match_port(self.pattern or "", self._others(names), self.kind)
            except RtgenError:
                return False
            return True

    def reconnect(self) -> None:
        """Re-open by the same pattern (re-resolved: the port may have a new suffix).

        Raises PortVanishedError (one line, listing the ports) when no single port matches
        yet; the current connection is then left as it is. A virtual port has nothing to do.
        """
        with self._lock:
            if self._closed:
                raise PortVanishedError(f"MIDI {self.kind} {self.name!r} is closed")
            if self.virtual:
                return
            try:
                match_port(self.pattern or "", self._others(self._list()), self.kind)  # first
            except RtgenError as exc:
                raise PortVanishedError(exc.format_message()) from None
            try:
                self._rt.close_port()
                self.name = self._open_matching(self.label)
            except RtgenError as exc:  # the list changed between the check and the open
                self._vanished = True
                raise PortVanishedError(exc.format_message()) from None
            except rtmidi.RtMidiError as exc:
                self._vanished = True
                raise PortVanishedError(
                    f"cannot reopen MIDI {self.kind} {self.pattern!r}: {_reason(exc)}"
                ) from None
            self._reopened()
            self._vanished = False

    def _others(self, names: list[str]) -> list[str]:
        """The listed ports this object may connect to (as ``_open_matching`` matches)."""
        return [name for name in names if not self._is_ours(name)]

    def _list(self) -> list[str]:
        try:
            return self._rt.get_ports()
        except rtmidi.RtMidiError:
            return []

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the port and delete the rtmidi client; a second call does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._before_release()
        with self._lock:
            self._release()
        _OWN_OUTPUTS.discard(self.own_name)

    def _before_release(self) -> None:
        """Runs once, after the port refuses new work and before the client goes."""

    def _release(self) -> None:
        rt, self._rt = self._rt, None
        if rt is None:
            return
        try:
            rt.close_port()  # on JACK: waits for a process cycle to take what is queued
        except rtmidi.RtMidiError:
            pass
        finally:
            rt.delete()

    def __enter__(self: _Port) -> _Port:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "vanished" if self._vanished else "open"
        kind = "virtual " if self.virtual else ""
        return f"{type(self).__name__}({kind}{self.name!r}, {self.api}, {state})"


class MidiOutput(_RtmidiPort):
    """An output port: the engine's OutputPort. Make one with ``rtgen.io.ports.open_output``.

    ``send`` is quick (rtmidi copies into a ring buffer that JACK's process thread empties
    once per period) and raises PortVanishedError once the port is closed or vanished.
    ``close`` waits ``flush_s`` first, so messages sent just before it still arrive.
    """

    kind = "output"
    _lister = rtmidi.MidiIn  # lists our port (a source) among its inputs

    def __init__(
        self,
        pattern: str | None,
        api: str | None,
        virtual: bool = False,
        client_name: str = "rtgen",
        virtual_name: str = "rtgen out",
        flush_s: float = FLUSH_S,
        waiting: Callable[[], None] | None = None,
    ) -> None:
        self.flush_s = flush_s
        super().__init__(pattern, api, virtual, client_name, virtual_name, waiting)

    def _make(self, rtapi: int) -> rtmidi.MidiOut:
        return rtmidi.MidiOut(rtapi=rtapi, name=self.client_name)

    def send(self, message: Message) -> None:
        """Send one raw MIDI message now, e.g. ``(0x90, 60, 100)``."""
        with self._lock:
            if self._rt is None or self._closed:
                raise PortVanishedError(f"MIDI output {self.name!r} is closed")
            if self._vanished:
                raise PortVanishedError(f"MIDI output {self.name!r} vanished")
            try:
                self._rt.send_message(message)
            except rtmidi.RtMidiError as exc:
                raise PortVanishedError(f"MIDI output {self.name!r}: {_reason(exc)}") from None

    def _before_release(self) -> None:
        if self.flush_s > 0 and not self._vanished:
            time.sleep(self.flush_s)


class MidiInput(_RtmidiPort):
    """An input port whose messages wait, stamped, in a bounded queue.

    Make one with ``rtgen.io.ports.open_input``. MIDI clock and other real-time messages
    come through (the engine follows an external clock); SysEx and active sensing do not.
    When the queue is full the oldest message is dropped and counted in :attr:`dropped`.
    Read with :meth:`poll` (everything waiting) or :meth:`get` (one, waiting up to a
    timeout) from one consumer thread at a time.

    No Python runs on the backend's thread: rtmidi's C++ callback fills rtmidi's own queue,
    and a reader thread (``rtgen-midi-in``) moves it into ours every ``poll_s``. Stamps are
    rtmidi's arrival times placed on ``time.perf_counter_ns()`` (:class:`ArrivalStamper`),
    never later than the poll that took the message.
    """

    kind = "input"
    _lister = rtmidi.MidiOut  # lists our port (a destination) among its outputs

    def __init__(
        self,
        pattern: str | None,
        api: str | None,
        virtual: bool = False,
        client_name: str = "rtgen",
        virtual_name: str = "rtgen in",
        queue_size: int = 4096,
        poll_s: float = POLL_S,
        waiting: Callable[[], None] | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, not {queue_size}")
        self.poll_s = poll_s
        self._queue: deque[Stamped] = deque(maxlen=queue_size)
        self._ready = threading.Event()
        self._received = 0  # written only by the reader thread
        self._taken = 0  # written only by consumers, under _take_lock
        self._take_lock = threading.Lock()
        self._stopping = False
        self._stamper = ArrivalStamper(round(STAMP_WINDOW_S * 1e9), round(STAMP_SLACK_S * 1e9))
        self._empty_ns = time.perf_counter_ns()  # nothing arrived before the port opened
        super().__init__(pattern, api, virtual, client_name, virtual_name, waiting)
        self._reader = threading.Thread(target=self._read_loop, name="rtgen-midi-in", daemon=True)
        self._reader.start()

    def _is_ours(self, name: str) -> bool:
        return _is_own_output(name)  # rtgen's own output, listed among the inputs

    def _make(self, rtapi: int) -> rtmidi.MidiIn:
        # rtmidi's queue only has to hold what arrives within one poll_s.
        limit = max(RTMIDI_QUEUE, self._queue.maxlen or 0)
        return rtmidi.MidiIn(rtapi=rtapi, name=self.client_name, queue_size_limit=limit)

    def _prepare(self, rt: rtmidi.MidiIn) -> None:
        # SysEx and active sensing are dropped in _take_from_rtmidi, not by rtmidi's
        # ignore_types: a message rtmidi ignores takes its delta time with it, so every
        # later stamp would come early.
        rt.ignore_types(sysex=False, timing=False, active_sense=False)

    def _reopened(self) -> None:
        # rtmidi may count its deltas afresh on the new port: no old bound fits them.
        self._stamper.reset()
        self._empty_ns = time.perf_counter_ns()

    def _read_loop(self) -> None:
        while not self._stopping:
            try:
                self._take_from_rtmidi()
            except rtmidi.RtMidiError:  # the port is being re-opened: try again next time
                pass
            time.sleep(self.poll_s)

    def _take_from_rtmidi(self) -> None:
        """Move what rtmidi queued into our queue, each message stamped."""
        count = 0
        with self._lock:
            rt = self._rt
            if rt is None:
                return
            empty_ns, queue, stamp = self._empty_ns, self._queue, self._stamper.stamp
            while True:
                asked_ns = time.perf_counter_ns()
                event = rt.get_message()
                if event is None:
                    self._empty_ns = asked_ns  # what comes next arrived after this
                    break
                message, delta_s = event
                t_ns = stamp(delta_s, empty_ns, time.perf_counter_ns())
                if message[0] not in DISCARDED:
                    queue.append((tuple(message), t_ns))  # a full deque drops its oldest
                    count += 1
        if count:
            self._received += count
            self._ready.set()

    @property
    def dropped(self) -> int:
        """Messages dropped (oldest first) because the queue was full."""
        return max(0, self._received - self._taken - len(self._queue))

    def poll(self) -> list[Stamped]:
        """Every waiting ``(message, t_ns)``, oldest first; empty when none wait."""
        items: list[Stamped] = []
        with self._take_lock:
            queue = self._queue
            while queue:
                items.append(queue.popleft())
            self._taken += len(items)
        return items

    def get(self, timeout: float | None = None) -> Stamped | None:
        """The oldest ``(message, t_ns)``, waiting up to ``timeout`` seconds (None: until one
        comes or the port closes); None when none came."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            with self._take_lock:
                if self._queue:
                    self._taken += 1
                    return self._queue.popleft()
            if self._closed:
                return None
            self._ready.clear()
            if self._queue:  # arrived between the check and the clear
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._ready.wait(remaining)

    def _before_release(self) -> None:
        self._stopping = True
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=1.0)
        self._ready.set()  # wake a consumer blocked in get()
