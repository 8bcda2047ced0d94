"""A frozen process (SIGSTOP, a laptop's sleep): the notes whose time passed during the
freeze are dropped and counted, never sent late in a burst; no note is left sounding and
none has zero length (issue 17, point 2)."""

from __future__ import annotations

import os
import signal
import time

from rtgen.engine.clock import FakeClock
from rtgen.engine.scheduler import Scheduler
from rtgen.midi import is_note_on
from tests.support.play import Rig

MS = 1_000_000


class ListPort:
    name = "list"

    def __init__(self) -> None:
        self.sent: list[tuple[int, ...]] = []

    def send(self, message) -> None:
        self.sent.append(tuple(message))


def test_notes_due_during_a_freeze_are_dropped_with_their_note_offs() -> None:
    """The send thread wakes 2 s late: the three notes due meanwhile are neither struck nor
    ended (no zero-length notes), the note that sounded through the freeze ends at once,
    and a note due a few ms ago (within the bound) is still played."""
    clock, port = FakeClock(0), ListPort()
    sched = Scheduler(port, clock, max_late_ns=40 * MS)
    sched.schedule_note(0, 2_500 * MS, 0, 60, 90)  # sounding through the freeze
    sched.run_due(0)
    for i, p in enumerate((62, 64, 65)):
        sched.schedule_note((100 + 200 * i) * MS, (250 + 200 * i) * MS, 0, p, 90)
    sched.schedule_note(1_980 * MS, 2_300 * MS, 0, 67, 90)  # 20 ms late at the wake
    clock.set(2_000 * MS)
    sched.run_due(clock.now_ns())
    after = port.sent[1:]
    assert after == [(0x90, 67, 90)], after
    assert sched.stats.dropped_late == 3
    clock.set(2_600 * MS)
    sched.run_due(clock.now_ns())
    assert port.sent[-2:] == [(0x80, 67, 0), (0x80, 60, 0)]
    assert len(sched.ledger) == 0


def test_no_bound_sends_everything_late_as_before() -> None:
    clock, port = FakeClock(0), ListPort()
    sched = Scheduler(port, clock)
    sched.schedule_note(100 * MS, 200 * MS, 0, 62, 90)
    clock.set(2_000 * MS)
    sched.run_due(clock.now_ns())
    assert port.sent == [(0x90, 62, 90), (0x80, 62, 0)] and sched.stats.dropped_late == 0


BEAT_S = 0.5
CALL = [60, 62, 64, 65, 67, 65, 64, 62]


def test_a_two_second_sigstop_mid_answer_sends_no_burst(rig: Rig) -> None:
    """`rtgen play`, frozen for 2 s in the middle of its answer: on waking it sends no
    burst of note-ons (at most one within 30 ms of the first message after the wake), no
    zero-length note, leaves nothing sounding, and counts what it dropped."""
    proc = rig.start("--seed", "2")
    t_off = rig.kbd.play(CALL, BEAT_S)
    deadline = t_off + 4.0
    while not rig.synth.note_ons(t_off) and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert rig.synth.note_ons(t_off), proc.stderr()
    time.sleep(0.6)  # well inside the two-bar answer
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(2.0)
    t_wake = time.perf_counter()
    os.kill(proc.pid, signal.SIGCONT)
    time.sleep(1.5)
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    got = [(t, m) for t, m in list(rig.synth.got) if t >= t_wake and len(m) >= 3]
    first = got[0][0] if got else t_wake
    burst = [t for t, m in got if first <= t < first + 0.03 and is_note_on(m)]
    assert len(burst) <= 1, got[:12]
    zero = _zero_length(list(rig.synth.got))
    assert not zero, zero
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()
    assert proc.stats()["dropped_late"] >= 0, proc.stderr()


def _zero_length(got: list) -> list:
    """Notes whose note-off came within 1 ms of their note-on: ((channel, pitch), t)."""
    on: dict[tuple[int, int], float] = {}
    out = []
    for t, m in got:
        if len(m) < 3 or m[0] & 0xE0 != 0x80:
            continue
        key = (m[0] & 15, m[1])
        if m[0] & 0xF0 == 0x90 and m[2]:
            on[key] = t
        elif key in on:
            if t - on.pop(key) < 0.001:
                out.append((key, t))
    return out
