"""A test peer that echoes: a JACK MIDI client with an input and an output port that sends
every message it gets back out ``delay_s`` later, as a synth whose MIDI thru is slow would.

    peer = Echo(delay_s=0.025)        # "rtgenTestEcho:in" -> 25 ms -> "rtgenTestEchoOut:out"
    ...
    peer.delete()

Its JACK clients live in a child process (tests/support/peerhost.py, role ``echo``), as the
keyboard's and the synth's do. Arrival times are rtmidi's own (JACK's clock,
CLOCK_MONOTONIC) placed on ``time.perf_counter()`` by the tightest offset any poll saw; the
echo is sent when ``perf_counter`` reaches arrival + delay (a sleep, then a spin for the
last millisecond). ``sent`` keeps ``(arrival, sent, message)`` per echo, so a test can check
the peer kept its own delay.
"""

from __future__ import annotations

import threading

from tests.support.peers import PeerProcess

ECHO = "rtgenTestEcho"


class Echo:
    def __init__(self, delay_s: float = 0.025, name: str = ECHO, echo: bool = True) -> None:
        self.name, self.delay_s, self.echo = name, delay_s, echo
        self.got: list[tuple[float, list[int]]] = []  # (arrival, message)
        self.sent: list[tuple[float, float, list[int]]] = []  # (arrival, sent, message)
        self._lock = threading.Lock()
        args = (repr(float(delay_s)), "1" if echo else "0")
        self._host: PeerProcess | None = PeerProcess("echo", name, self._event, args)

    def _event(self, fields: list[str]) -> None:
        with self._lock:
            if fields[0] == "g":
                self.got.append((float(fields[1]), [int(b) for b in fields[2:]]))
            else:
                self.sent.append((float(fields[1]), float(fields[2]), [int(b) for b in fields[3:]]))

    @property
    def in_port(self) -> str:
        return f"{self.name}:in"

    @property
    def out_port(self) -> str:
        return f"{self.name}Out:out"

    def delete(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None
