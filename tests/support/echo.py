"""A test peer that echoes: a JACK MIDI client with an input and an output port that sends
every message it gets back out ``delay_s`` later, as a synth whose MIDI thru is slow would.

    peer = Echo(delay_s=0.025)        # "rtgenTestEcho:in" -> 25 ms -> "rtgenTestEcho:out"
    ...
    peer.delete()

Arrival times are rtmidi's own (JACK's clock, CLOCK_MONOTONIC) placed on
``time.perf_counter()`` by the tightest offset any poll saw, as :class:`tests.support.peers.
Synth` does; the echo is sent when ``perf_counter`` reaches arrival + delay (a sleep, then
a spin for the last millisecond). ``sent`` keeps ``(arrival, sent, message)`` per echo, so a
test can check the peer kept its own delay.
"""

from __future__ import annotations

import heapq
import threading
import time

import rtmidi

ECHO = "rtgenTestEcho"


class Echo:
    POLL_S = 0.0002
    SPIN_S = 0.001

    def __init__(self, delay_s: float = 0.025, name: str = ECHO, echo: bool = True) -> None:
        self.name, self.delay_s, self.echo = name, delay_s, echo
        self.got: list[tuple[float, list[int]]] = []  # (arrival, message)
        self.sent: list[tuple[float, float, list[int]]] = []  # (arrival, sent, message)
        self._halt = threading.Event()
        self.rt_in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=name)
        self.rt_in.ignore_types(sysex=False, timing=False, active_sense=False)
        self.rt_in.open_virtual_port("in")
        self.rt_out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=f"{name}Out")
        self.rt_out.open_virtual_port("out")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def in_port(self) -> str:
        return f"{self.name}:in"

    @property
    def out_port(self) -> str:
        return f"{self.name}Out:out"

    def _run(self) -> None:
        t = None  # seconds since the first message, from rtmidi's deltas
        offset = None  # perf_counter - t: the tightest bound any poll gave
        due: list[tuple[float, int, list[int]]] = []  # (send at, order, message)
        order = 0
        while not self._halt.is_set():
            while (event := self.rt_in.get_message()) is not None:
                polled = time.perf_counter()
                t = 0.0 if t is None else t + event[1]
                offset = polled - t if offset is None else min(offset, polled - t)
                arrival = offset + t
                self.got.append((arrival, event[0]))
                if self.echo:
                    heapq.heappush(due, (arrival + self.delay_s, order, event[0]))
                    order += 1
            now = time.perf_counter()
            if due and due[0][0] <= now + self.SPIN_S:
                while time.perf_counter() < due[0][0]:
                    pass
                at, _, message = heapq.heappop(due)
                self.rt_out.send_message(message)
                self.sent.append((at - self.delay_s, time.perf_counter(), message))
                continue
            time.sleep(self.POLL_S)

    def delete(self) -> None:
        self._halt.set()
        self._thread.join(timeout=5)
        for rt in (self.rt_in, self.rt_out):
            rt.close_port()
            rt.delete()
