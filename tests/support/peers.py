"""A keyboard and a synth on JACK: the test peers of every test that uses real ports.

Each peer's JACK client lives in a child process (peerhost.py), so the test process never
opens a JACK client for them: a client that crashes as it closes (python-rtmidi's JACK
input, now and then) ends that child, not the test run.

The synth times every message on arrival on ``time.perf_counter()`` (CLOCK_MONOTONIC, the
same clock in every process on Linux; see :class:`Synth`), so a test can time what rtgen
did against what the test did.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# The test peers' client names, and their ports' full names (as rtgen and jack_connect say).
KBD, SYNTH = "rtgenTestKbd", "rtgenTestSynth"
KBD_PORT, SYNTH_PORT = f"{KBD}:out", f"{SYNTH}:in"


def open_keys(
    got: list[tuple[float, list[int]]], since: float = 0.0, until: float = float("inf")
) -> Counter:
    """(channel, pitch) -> notes left on by note-on / note-off pairs among the messages that
    arrived in [since, until) (CC123 not counted)."""
    count: Counter = Counter()
    for t, m in got:
        if not since <= t < until or len(m) < 3:
            continue
        key = (m[0] & 15, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            count[key] += 1
        elif m[0] & 0xF0 in (0x80, 0x90) and count[key]:
            count[key] -= 1
    return +count


def open_notes(got: list[tuple[float, list[int]]], until: float) -> set[tuple[int, int]]:
    """(channel, pitch) of notes sounding at ``until`` by the messages that arrived before."""
    return set(open_keys(got, until=until))


class PeerProcess:
    """A peer's JACK client in a child process (peerhost.py) and the line protocol to it.
    ``on_event(fields)`` is called for each event line (a message a synth got, ``m``; an
    echo's arrival ``g`` and echo ``e``: peerhost.py), split, on this object's reader
    thread. ``args``: the role's own (the echo's delay)."""

    SCRIPT = Path(__file__).with_name("peerhost.py")
    REPLY_S = 10.0  # a child that does not answer in this long is a failed peer

    EVENTS = ("m ", "g ", "e ")

    def __init__(self, role: str, name: str, on_event=None, args: tuple[str, ...] = ()) -> None:
        self._on_event = on_event
        self._replies: queue.Queue[str] = queue.Queue()
        self._ready = threading.Event()
        self._opened = False  # the child said its port is open
        self.proc = subprocess.Popen(
            [sys.executable, str(self.SCRIPT), role, name, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(self.REPLY_S) or not self._opened:
            self.close()
            raise RuntimeError(f"test peer {name} did not open its JACK port")

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(self.EVENTS):
                self._on_event(line.split())
            elif line == "r\n":
                self._opened = True
                self._ready.set()
            elif line.startswith(("p\t", "p\n", "a ")):
                self._replies.put(line.rstrip("\n"))
        self._replies.put("")  # the child is gone: a waiting request fails now, not later
        self._ready.set()

    def request(self, line: str) -> str:
        """Send one request line; its reply line (RuntimeError if the child is gone)."""
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            reply = self._replies.get(timeout=self.REPLY_S)
        except (OSError, queue.Empty) as e:
            reply, why = "", repr(e)
        else:
            why = "no reply"
        if not reply:
            raise RuntimeError(f"test peer exited ({self.proc.poll()}): {why}")
        return reply

    def close(self) -> None:
        """Close the port and end the child (killed if it does not end in time). A child
        that crashed on the way out (the JACK race in the module docstring) is ignored."""
        try:
            self.proc.stdin.write("q\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=self.REPLY_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=1)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class Synth:
    """A JACK MIDI input that keeps every message it gets with its arrival time, across
    restarts (a synth that quits and comes back is one synth to count notes on).

    The JACK client lives in a child process (peerhost.py): rtmidi's queue takes the
    messages on JACK's thread and the child polls it every 0.5 ms (a Python callback on
    JACK's thread would wait for the GIL, and a JACK client that runs late reads a later
    period's buffer: messages repeat or are lost, seen in 10-minute soaks). Arrival times
    are rtmidi's JACK times (jack_get_time, CLOCK_MONOTONIC) placed on
    ``time.perf_counter()`` by the tightest offset any poll saw, so a test can time what
    rtgen did against what the test did (a signal, a cable pulled)."""

    def __init__(self, name: str = SYNTH) -> None:
        self.name = name
        self._raw: list[tuple[int, float, float, list[int]]] = []  # life, polled, t, message
        self._lock = threading.Lock()
        self._life = 0
        self._host: PeerProcess | None = None
        self._taken = 0  # how far collect() has read
        self.start()

    @property
    def port(self) -> str:
        """The full name of its input port, as rtgen and jack_connect name it."""
        return f"{self.name}:in"

    def start(self) -> None:
        self._life += 1
        life = self._life

        def arrived(fields: list[str]) -> None:
            _, polled, t, *message = fields
            with self._lock:
                self._raw.append((life, float(polled), float(t), [int(b) for b in message]))

        self._host = PeerProcess("synth", self.name, arrived)

    def delete(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    @property
    def got(self) -> list[tuple[float, list[int]]]:
        """(perf_counter seconds, message) for everything received, in arrival order."""
        with self._lock:
            raw = list(self._raw)
        offset: dict[int, float] = {}
        for life, polled, t, _ in raw:
            offset[life] = min(offset.get(life, polled - t), polled - t)
        return [(offset[life] + t, m) for life, _, t, m in raw]

    def clear(self) -> None:
        with self._lock:
            self._raw.clear()
            self._taken = 0

    def collect(self, count: int | None = None, timeout_s: float = 3.0) -> list[tuple[int, ...]]:
        """What this life of the port got since the last collect, in arrival order: until
        ``count`` messages (the rest wait for the next collect), or (no count) until 100 ms
        pass with nothing new; at most ``timeout_s``. A restarted synth, as a new port, has
        nothing waiting from before."""
        deadline = time.monotonic() + timeout_s
        seen, quiet_since = 0, time.monotonic()
        while True:
            with self._lock:
                mine = [
                    (i, m)
                    for i, (life, _, _, m) in enumerate(self._raw[self._taken :], self._taken)
                    if life == self._life
                ]
            if len(mine) != seen:
                seen, quiet_since = len(mine), time.monotonic()
            if count is not None:
                done = len(mine) >= count
            else:
                done = time.monotonic() - quiet_since > 0.1
            if done or time.monotonic() >= deadline:
                taken = mine[:count] if count is not None else mine
                if taken:
                    self._taken = taken[-1][0] + 1
                return [tuple(m) for _, m in taken]
            time.sleep(0.001)

    def ports(self) -> list[str]:
        """Output ports of every client, listed through this one."""
        return _ports(self._host)

    def note_ons(self, since: float = 0.0, until: float = float("inf")) -> list[tuple[float, int]]:
        return [
            (t, m[1])
            for t, m in list(self.got)
            if since <= t < until and m[0] & 0xF0 == 0x90 and m[2]
        ]

    def first(self, since: float, test: Callable[[list[int]], bool]) -> float | None:
        """Arrival time of the first message after ``since`` for which ``test(msg)`` holds."""
        return next((t for t, m in list(self.got) if t >= since and test(m)), None)

    def first_cc123(self, since: float) -> float | None:
        return self.first(since, lambda m: m[0] & 0xF0 == 0xB0 and m[1] == 123)

    def settle(self, quiet_s: float = 0.1, limit_s: float = 1.0) -> None:
        """Wait until nothing has arrived for ``quiet_s`` (at most ``limit_s``): the last
        messages of a process that just exited may still be on their way through JACK."""
        end = time.perf_counter() + limit_s
        while time.perf_counter() < end:
            with self._lock:
                last = self._raw[-1][1] if self._raw else 0.0
            if time.perf_counter() - last >= quiet_s:
                return
            time.sleep(quiet_s / 4)

    def sounding(self, since: float = 0.0) -> int:
        """Notes left on, by note-on/note-off pairs per (channel, pitch) (not by CC123),
        counting what arrived from ``since`` on, once the port has gone quiet."""
        self.settle()
        return sum(open_keys(self.got, since).values())

    def stuck_report(self, since: float = 0.0, last: int = 6) -> str:
        """For a failing ``sounding()``: each key left on with its last note messages (seconds
        before the final arrival), and the port's last messages: what a hanging note's story
        was (a lost note-off, a second note-on, a message after the panic)."""
        got = list(self.got)
        end = got[-1][0] if got else 0.0
        lines = []
        for ch, pitch in sorted(open_keys(got, since)):
            story = [
                (round(t - end, 4), m)
                for t, m in got
                if t >= since
                and len(m) > 1
                and m[0] & 0xE0 == 0x80
                and (m[0] & 15, m[1]) == (ch, pitch)
            ]
            lines.append(f"channel {ch} pitch {pitch}: {story[-last:]}")
        lines.append(f"last messages: {[(round(t - end, 4), m) for t, m in got[-2 * last :]]}")
        return "\n".join(lines)


def _ports(host: PeerProcess | None) -> list[str]:
    """The ports the other side lists through ``host``'s client (none when it is closed)."""
    return host.request("p").split("\t")[1:] if host is not None else []


def _sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.perf_counter()))


class Keyboard:
    """A JACK MIDI output, the player's keyboard (its JACK client in a child process, as
    the synth's). ``send`` returns once rtmidi has taken every message."""

    def __init__(self, name: str = KBD) -> None:
        self.name = name
        self._host: PeerProcess | None = None
        self.start()

    @property
    def port(self) -> str:
        """The full name of its output port, as rtgen and jack_connect name it."""
        return f"{self.name}:out"

    def start(self) -> None:
        self._host = PeerProcess("kbd", self.name)

    def delete(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    def ports(self) -> list[str]:
        """Input ports of every client, listed through this one."""
        return _ports(self._host)

    def send_many(self, messages) -> int:
        """Send ``messages`` in order; how many rtmidi refused (a malformed one)."""
        if not messages:
            return 0
        line = ";".join(" ".join(str(int(b)) for b in m) for m in messages)
        return int(self._host.request(f"s {line}").split()[1])

    def send(self, *messages: list[int] | tuple[int, ...]) -> None:
        refused = self.send_many(messages)
        if refused:
            raise ValueError(f"rtmidi refused {refused} of {len(messages)} messages")

    def play(self, pitches: list[int], beat_s: float, gate: float = 0.9, ch: int = 0) -> float:
        """One note a beat, each key down and up at its time from the first (a send's round
        trip to the peer's process does not push the notes after it later); returns the
        time of the last note-off."""
        t0, t_off = time.perf_counter(), 0.0
        for j, p in enumerate(pitches):
            _sleep_until(t0 + j * beat_s)
            self.send([0x90 | ch, p, 96])
            _sleep_until(t0 + (j + gate) * beat_s)
            self.send([0x80 | ch, p, 0])
            t_off = time.perf_counter()
        _sleep_until(t0 + len(pitches) * beat_s)
        return t_off

    def all_notes_off(self) -> None:
        self.send(*([0xB0 | ch, c, 0] for ch in range(16) for c in (123, 64)))
