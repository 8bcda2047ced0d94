"""The JACK end of a test peer (peers.py), in a process of its own.

A JACK client that closes while the server is still calling it can crash the process it
lives in (python-rtmidi's JACK input, now and then, in ``delete()``: docs/reliability.md).
In here such a crash ends this process only; the test process never opens a JACK client
for its peers, and a peer that dies is a failed peer, never a dead test run.

    python tests/support/peerhost.py synth NAME   # virtual input NAME:in
    python tests/support/peerhost.py kbd NAME     # virtual output NAME:out
    python tests/support/peerhost.py echo NAME DELAY_S ECHO   # NAME:in -> NAMEOut:out

A line protocol on stdin / stdout (one line each way per request):

    <- r                                  ready: the port is open
    -> p                                  <- p<TAB>port<TAB>port...  the other clients' ports
    -> s B B B;B B;...                    kbd: send these messages
                                          <- a REFUSED PERF_COUNTER_S  (after the last one)
    <- m POLLED_S T_S B B B               synth: a message, the perf_counter second it was
                                          polled and rtmidi's time since the first one
    <- g ARRIVAL_S B B B                  echo: a message and its arrival (placed as the
                                          synth's are, in here)
    <- e ARRIVAL_S SENT_S B B B           echo: sent back out DELAY_S after its arrival (a
                                          sleep, then a spin for the last millisecond;
                                          ECHO 0: nothing is sent back)
    -> q                                  close the port and exit

Times are ``time.perf_counter()``: CLOCK_MONOTONIC, the same clock in every process.
"""

from __future__ import annotations

import heapq
import os
import sys
import threading
import time

import rtmidi

POLL_S = 0.0005
ECHO_POLL_S = 0.0002  # the echo polls faster: it is timed
SPIN_S = 0.001  # an echo's last millisecond is spun, not slept


def _poll(rt: rtmidi.MidiIn, say, halt: threading.Event) -> None:
    """Everything the input gets, with rtmidi's deltas summed (JACK times) and the poll
    time. Nothing is ignored by rtmidi: an ignored message takes its delta with it and
    every later arrival would be placed early; SysEx and active sensing are dropped here,
    after their deltas are counted."""
    t = None
    while not halt.is_set():
        lines = []
        while (event := rt.get_message()) is not None:
            t = 0.0 if t is None else t + event[1]
            if event[0][0] in (0xF0, 0xFE):
                continue
            polled = time.perf_counter()
            lines.append(f"m {polled:.9f} {t:.9f} {' '.join(map(str, event[0]))}")
        if lines:
            say("\n".join(lines))
        else:
            time.sleep(POLL_S)


def _echo(rt_in, rt_out, say, halt: threading.Event, delay_s: float, echo: bool) -> None:
    """A synth whose MIDI thru is slow: every message back out ``delay_s`` after arrival."""
    t = None  # seconds since the first message, from rtmidi's deltas
    offset = None  # perf_counter - t: the tightest bound any poll gave
    due: list[tuple[float, int, list[int]]] = []  # (send at, order, message)
    order = 0
    while not halt.is_set():
        while (event := rt_in.get_message()) is not None:
            polled = time.perf_counter()
            t = 0.0 if t is None else t + event[1]
            offset = polled - t if offset is None else min(offset, polled - t)
            arrival = offset + t
            say(f"g {arrival:.9f} {' '.join(map(str, event[0]))}")
            if echo:
                heapq.heappush(due, (arrival + delay_s, order, event[0]))
                order += 1
        now = time.perf_counter()
        if due and due[0][0] <= now + SPIN_S:
            while time.perf_counter() < due[0][0]:
                pass
            at, _, message = heapq.heappop(due)
            rt_out.send_message(message)
            sent = time.perf_counter()
            say(f"e {at - delay_s:.9f} {sent:.9f} {' '.join(map(str, message))}")
            continue
        time.sleep(ECHO_POLL_S)


def _send(rt: rtmidi.MidiOut, text: str) -> int:
    """Send each ``;``-separated message; how many rtmidi refused."""
    refused = 0
    for part in text.split(";"):
        try:
            rt.send_message([int(b) for b in part.split()])
        except (ValueError, rtmidi.RtMidiError):
            refused += 1
    return refused


def main(role: str, name: str, *args: str) -> None:
    # The protocol gets its own copy of stdout; fd 1 goes to stderr, so nothing libjack
    # prints (its info messages) can be read as a reply.
    wire = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            wire.write(text + "\n")
            wire.flush()

    halt = threading.Event()
    poller = None
    outs = []  # the echo's second client
    if role == "echo":
        rt = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=name)
        rt.ignore_types(sysex=False, timing=False, active_sense=False)
        rt.open_virtual_port("in")
        out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=f"{name}Out")
        out.open_virtual_port("out")
        outs.append(out)
        echo_args = (float(args[0]), args[1] == "1")
        poller = threading.Thread(target=_echo, args=(rt, out, say, halt, *echo_args), daemon=True)
        poller.start()
    elif role == "synth":
        rt = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=name, queue_size_limit=1 << 16)
        rt.ignore_types(sysex=False, timing=False, active_sense=False)
        rt.open_virtual_port("in")
        poller = threading.Thread(target=_poll, args=(rt, say, halt), daemon=True)
        poller.start()
    else:
        rt = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=name)
        rt.open_virtual_port("out")
    say("r")
    for line in sys.stdin:
        cmd, _, rest = line.rstrip("\n").partition(" ")
        if cmd == "p":
            say("\t".join(["p", *rt.get_ports()]))
        elif cmd == "s":
            refused = _send(rt, rest)
            say(f"a {refused} {time.perf_counter():.9f}")
        elif cmd == "q":
            break
    halt.set()
    if poller is not None:
        poller.join(timeout=5)
    for client in (rt, *outs):
        client.close_port()
        client.delete()
    wire.flush()
    os._exit(0)  # nothing left to tear down that could crash on the way out


if __name__ == "__main__":
    main(*sys.argv[1:])
