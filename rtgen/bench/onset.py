"""Onset timing at a receiving JACK port: the real Scheduler, MonotonicClock and rtgen ports.

A receiver (a JACK virtual input made by ``rtgen.io.ports.open_input``, which stamps each
message with the time JACK's thread saw it, placed on ``perf_counter_ns``) listens; an
output opened by name sends to it through a :class:`Scheduler` on a :class:`MonotonicClock`.
Sixteenth notes at 120 BPM are scheduled from a beat origin, about 100 ms ahead as the
planner does. For each note-on:

    onset error = |arrival time at the receiver - scheduled deadline|   (both perf_counter_ns;
                  the signed figures are reported too, as ``signed_ms``)
    send lateness = time the scheduler handed it to the port - deadline
    transport = arrival - send   (JACK delivers at the start of the next period)

By default the scheduler sends half a JACK period ahead (so a message lands on the period
nearest its deadline, not always the next one) from a SCHED_FIFO thread where the system
allows it; the figures say what was used (``send_ahead_ms``, ``realtime``).

Drift is the mean onset error of the last 10 s minus that of the first 10 s (the two
halves when the run is shorter than 20 s): a clock that accumulated error would show here.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from rtgen.bench.stats import summary
from rtgen.engine.clock import MonotonicClock
from rtgen.engine.scheduler import Scheduler
from rtgen.midi import is_note_on

BPM = 120.0
PER_BEAT = 4  # sixteenth notes
LEAD_NS = 100_000_000  # schedule this far ahead of each deadline
GATE_NS = 60_000_000  # note length
PITCHES = 36  # a cycle of pitches, so an arrival is matched to its own note
DRIFT_WINDOW_S = 10.0
RT_PRIORITY = 1  # SCHED_FIFO priority of the send thread: above normal tasks, below JACK
TAIL_S = 0.3  # wait for the last messages after the last deadline
# Messages sent before the first note so the receiver has placed its clock (see
# ArrivalStamper): the first message it ever gets is stamped at poll time, up to 1 ms late.
# Active sensing, which the receiver counts but never queues.
WARMUP = 20
WARMUP_GAP_S = 0.003


@dataclass
class StampingOutput:
    """The scheduler's port: stamps each send, then passes it to the real port."""

    port: object
    name: str = "bench out"
    sent: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)

    def send(self, message: tuple[int, ...]) -> None:
        self.sent.append((time.perf_counter_ns(), message))
        self.port.send(message)

    def close(self) -> None:
        self.port.close()


def _match(deadlines: list[int], pitches: list[int], got: list, sent: list) -> tuple:
    """(deadline, arrival, send) for each note-on that arrived, in deadline order."""
    by_pitch: dict[int, deque[int]] = defaultdict(deque)
    for i, p in enumerate(pitches):
        by_pitch[p].append(i)
    send_of: dict[int, deque[int]] = defaultdict(deque)
    for t, m in sent:
        if is_note_on(m):
            send_of[m[1]].append(t)
    rows = []
    for m, t in got:
        if not is_note_on(m) or not by_pitch[m[1]]:
            continue
        i = by_pitch[m[1]].popleft()
        rows.append((deadlines[i], t, send_of[m[1]].popleft() if send_of[m[1]] else t))
    rows.sort()
    return rows


def drift_ms(deadlines: np.ndarray, errors_ns: np.ndarray, seconds: float) -> float | None:
    """Mean error of the last 10 s minus the first 10 s (halves if shorter than 20 s)."""
    if len(deadlines) < 4:
        return None
    rel = (deadlines - deadlines[0]) / 1e9
    span = min(DRIFT_WINDOW_S, seconds / 2)
    first, last = errors_ns[rel < span], errors_ns[rel >= seconds - span]
    if not len(first) or not len(last):
        return None
    return round(float(last.mean() - first.mean()) / 1e6, 3)


def _warm_up(port: object) -> None:
    for _ in range(WARMUP):
        port.send((0xFE,))
        time.sleep(WARMUP_GAP_S)


def measure_onsets(
    seconds: float,
    tag: str = "idle",
    send_ahead_ns: int | None = None,
    rt_priority: int | None = RT_PRIORITY,
) -> tuple[dict, np.ndarray]:
    """Figures (ms) for ``seconds`` of sixteenths at 120 BPM, and the onset errors (ns).

    ``send_ahead_ns`` None: half the JACK server's period (0 when it cannot be read).
    ``rt_priority`` None: the send thread keeps its normal priority.
    """
    from rtgen.io.jackperiod import period_ns
    from rtgen.io.ports import open_input, open_output

    if send_ahead_ns is None:
        send_ahead_ns = (period_ns() or 0) // 2
    client = f"rtgenbench{os.getpid()}{tag}"
    rx = open_input(None, "jack", virtual=True, client_name=client + "rx", virtual_name="in")
    try:
        tx = open_output(f"{client}rx:in", "jack", client_name=client + "tx")
    except BaseException:
        rx.close()
        raise
    _warm_up(tx)
    out = StampingOutput(tx)
    clock = MonotonicClock()
    scheduler = Scheduler(out, clock, send_ahead_ns=send_ahead_ns, rt_priority=rt_priority)
    step_ns = 60e9 / BPM / PER_BEAT
    n = max(2, int(seconds * 1e9 / step_ns))
    origin = clock.now_ns() + LEAD_NS + 50_000_000
    deadlines = [origin + round(i * step_ns) for i in range(n)]  # from the origin, never summed
    pitches = [48 + i % PITCHES for i in range(n)]
    got: list = []
    try:
        scheduler.start()
        i = 0
        while i < n:
            now = clock.now_ns()
            while i < n and deadlines[i] - now <= LEAD_NS:
                scheduler.schedule_note(deadlines[i], deadlines[i] + GATE_NS, 0, pitches[i], 100)
                i += 1
            got += rx.poll()  # the receiver's queue is bounded: empty it as we go
            time.sleep(0.02)  # the engine loop's own wake-up period
        clock.sleep_until(deadlines[-1] + GATE_NS + int(TAIL_S * 1e9))
    finally:
        scheduler.stop(panic=True)
        got += rx.poll()
        tx.close()
        rx.close()
    rows = np.asarray(_match(deadlines, pitches, got, out.sent), dtype=np.int64).reshape(-1, 3)
    errors, late = rows[:, 1] - rows[:, 0], rows[:, 2] - rows[:, 0]
    # p50/p99/max of |error|: with send-ahead a note may land before its deadline as well as
    # after it, and early is as wrong as late. The signed figures are kept beside them.
    figures = summary(np.abs(errors), "ms") or {}
    figures.update(
        {
            "signed_ms": summary(errors, "ms"),
            "notes": n,
            "lost": n - len(rows),
            "send_late_ms": summary(late, "ms"),
            "transport_ms": summary(errors - late, "ms"),
            "send_ahead_ms": round(send_ahead_ns / 1e6, 3),
            "realtime": scheduler.realtime,
            "drift_ms": drift_ms(rows[:, 0], errors, seconds),
        }
    )
    return figures, errors
