"""Scheduler: deadlines, ordering, refusal of the past, barge-in, panic, and the send thread."""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.clock import FakeClock, MonotonicClock
from rtgen.engine.portproto import FakeOutputPort, OutputPort, PortVanishedError
from rtgen.engine.scheduler import Scheduler
from rtgen.midi import is_note_off, is_note_on
from tests.engine.test_ledger import hanging

SETTINGS = settings(derandomize=True, max_examples=120, deadline=None)
MS = 1_000_000


def make(flush_s: float = 0.0, **kw) -> tuple[Scheduler, FakeOutputPort, FakeClock]:
    clock = FakeClock()
    port = FakeOutputPort("synth", clock=clock)
    return Scheduler(port, clock, flush_s=flush_s, **kw), port, clock


def step(sched: Scheduler, clock: FakeClock, dt_ns: int) -> None:
    """Advance the fake clock and send what is due, as the thread would."""
    clock.advance(dt_ns)
    sched.run_due(clock.now_ns())


def test_fake_port_implements_the_protocol() -> None:
    """FakeOutputPort satisfies OutputPort, closes twice safely, and is a context manager."""
    with FakeOutputPort("x") as port:
        assert isinstance(port, OutputPort)
        port.send((0x90, 60, 1))
    port.close()
    assert port.closed and port.close_calls == 2
    with pytest.raises(PortVanishedError):
        port.send((0x80, 60, 0))
    assert port.messages() == [(0x90, 60, 1)]


def test_fake_port_fails_as_told() -> None:
    """fail_after/fail_count make sends raise (transiently or for good); vanish() for good."""
    port = FakeOutputPort(fail_after=1, fail_count=1)
    port.send((0xB0, 1, 1))
    with pytest.raises(PortVanishedError):
        port.send((0xB0, 1, 2))
    port.send((0xB0, 1, 3))
    port.vanish(OSError("gone"))
    with pytest.raises(OSError, match="gone"):
        port.send((0xB0, 1, 4))
    assert port.messages() == [(0xB0, 1, 1), (0xB0, 1, 3)]
    assert port.failed == [(0xB0, 1, 2), (0xB0, 1, 4)]


# -- deadlines and order (fake clock, exact) --------------------------------------------------

notes = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 300), st.integers(0, 100)),
    max_size=30,
)


@SETTINGS
@given(notes, st.lists(st.integers(0, 120), max_size=12))
def test_nothing_sent_before_its_deadline(specs, steps) -> None:
    """Every message goes out at or after its deadline, and nothing due is left unsent."""
    sched, port, clock = make()
    t0 = clock.now_ns()
    deadline = {}
    for pitch, (on, dur, _) in enumerate(specs):  # unique pitch: a message names its note
        assert sched.schedule_note(t0 + on * MS, t0 + (on + dur) * MS, 0, pitch, 100)
        deadline[(0x90, pitch, 100)] = t0 + on * MS
        deadline[(0x80, pitch, 0)] = t0 + (on + dur) * MS
    for dt in [*steps, 10_000]:
        step(sched, clock, dt * MS)
        assert all(t > clock.now_ns() for t, _ in sched.queued())
    for t_sent, message in port.sent:
        assert t_sent >= deadline[message]
    assert len(port.sent) == 2 * len(specs)
    assert sched.stats.sent == 2 * len(specs) and sched.stats.rejected_past == 0


def test_past_events_are_refused_and_counted() -> None:
    """A deadline before now is refused and counted; exactly now is accepted."""
    sched, port, clock = make()
    clock.advance(1000 * MS)
    now = clock.now_ns()
    assert not sched.schedule(now - 1, (0x90, 60, 100))
    assert not sched.schedule_note(now - MS, now + MS, 0, 61, 100)
    assert sched.stats.rejected_past == 2
    assert sched.pending() == 0
    assert sched.schedule(now, (0xB0, 1, 0))
    sched.run_due(now)
    assert port.messages() == [(0xB0, 1, 0)]
    assert sched.stats.max_late_ns == 0


def test_past_note_off_of_a_sounding_note_is_sent_now() -> None:
    """A late note-off for a sounding note is moved to now, never lost."""
    sched, port, clock = make()
    assert sched.schedule(clock.now_ns(), (0x90, 60, 100))
    step(sched, clock, 0)
    step(sched, clock, 50 * MS)
    assert sched.schedule(clock.now_ns() - 10 * MS, (0x80, 60, 0))
    assert not sched.schedule(clock.now_ns() - 10 * MS, (0x80, 61, 0))  # not sounding
    step(sched, clock, 0)
    assert sched.ledger.sounding() == set()
    assert sched.stats.rejected_past == 1


def test_equal_deadlines_send_offs_before_others_before_ons() -> None:
    """At one deadline: note-offs first, then CCs, then note-ons, each group in FIFO order."""
    sched, port, clock = make()
    t = clock.now_ns() + 10 * MS
    sched.schedule(t, (0x90, 60, 100))
    sched.schedule(t, (0xB0, 64, 0))
    sched.schedule(t, (0x90, 60, 0))  # velocity 0: a note-off
    sched.schedule(t, (0x91, 62, 90))
    sched.schedule(t, (0x80, 59, 0))
    sched.schedule(t - MS, (0x92, 1, 1))
    step(sched, clock, 10 * MS)
    assert port.messages() == [
        (0x92, 1, 1),
        (0x90, 60, 0),
        (0x80, 59, 0),
        (0xB0, 64, 0),
        (0x90, 60, 100),
        (0x91, 62, 90),
    ]


def test_repeated_pitch_is_restruck_not_cut() -> None:
    """A note ending where the same pitch starts again: off then on, the new note sounds."""
    sched, port, clock = make()
    t0 = clock.now_ns()
    sched.schedule_note(t0 + 100 * MS, t0 + 200 * MS, 0, 60, 100)
    sched.schedule_note(t0, t0 + 100 * MS, 0, 60, 100)
    step(sched, clock, 100 * MS)
    assert port.messages() == [(0x90, 60, 100), (0x80, 60, 0), (0x90, 60, 100)]
    assert sched.ledger.sounding() == {(0, 60)}


def test_schedule_note_rejects_bad_notes() -> None:
    """A note-off not after its note-on, or an out-of-range field, is a ValueError."""
    sched, _, clock = make()
    t = clock.now_ns() + MS
    for args in [(t, t, 0, 60, 100), (t, t + 1, 16, 60, 100), (t, t + 1, 0, 128, 1)]:
        with pytest.raises(ValueError):
            sched.schedule_note(*args)
    with pytest.raises(ValueError):
        sched.schedule_note(t, t + 1, 0, 60, 0)
    with pytest.raises(ValueError):
        sched.schedule(t, (60, 100))


def test_lateness_is_recorded() -> None:
    """run_due records now - deadline; beyond the tolerance it counts as late."""
    sched, _, clock = make(late_tolerance_ns=2 * MS)
    t0 = clock.now_ns()
    sched.schedule(t0 + 10 * MS, (0xB0, 1, 1))
    sched.schedule(t0 + 11 * MS, (0xB0, 1, 2))
    step(sched, clock, 13 * MS)
    assert list(sched.stats.recent_late_ns) == [3 * MS, 2 * MS]
    assert sched.stats.late == 1 and sched.stats.max_late_ns == 3 * MS
    assert sched.stats.as_dict()["sent"] == 2


def test_send_ahead_sends_early_in_deadline_order_and_counts_lateness_from_then() -> None:
    """With send_ahead_ns a message goes out that long before its deadline, never sooner;
    ordering at equal deadlines is kept and lateness is measured from the send time."""
    sched, port, clock = make(send_ahead_ns=MS // 2)
    t0 = clock.now_ns() + 10 * MS
    sched.schedule_note(t0, t0 + 5 * MS, 0, 60, 100)
    sched.schedule_note(t0 + 5 * MS, t0 + 9 * MS, 0, 60, 90)  # re-struck at the same time
    step(sched, clock, 10 * MS - MS // 2 - 1)
    assert port.messages() == []
    step(sched, clock, 1)
    assert port.sent == [(t0 - MS // 2, (0x90, 60, 100))]
    step(sched, clock, 5 * MS + 200_000)  # 0.2 ms after t0 + 4.5 ms
    assert port.messages()[1:] == [(0x80, 60, 0), (0x90, 60, 90)]
    assert list(sched.stats.recent_late_ns) == [0, 200_000, 200_000]
    assert sched.next_deadline() == t0 + 9 * MS  # deadlines themselves are not moved


def test_send_ahead_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="send_ahead_ns"):
        make(send_ahead_ns=-1)


# -- stop, panic, barge-in: nothing hangs -----------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("note"),
            st.integers(-50, 500),  # note-on relative to now (negative: refused)
            st.integers(1, 400),  # duration
            st.integers(0, 2),  # channel
            st.integers(60, 63),  # few pitches: plenty of overlaps on one (channel, pitch)
        ),
        st.tuples(st.just("advance"), st.integers(0, 300)),
        st.tuples(st.just("raw_on"), st.integers(-5, 200), st.integers(0, 2), st.integers(60, 63)),
    ),
    max_size=50,
)


def apply(sched: Scheduler, clock: FakeClock, op: tuple) -> bool | None:
    now = clock.now_ns()
    if op[0] == "note":
        _, on, dur, channel, pitch = op
        return sched.schedule_note(now + on * MS, now + (on + dur) * MS, channel, pitch, 100)
    if op[0] == "raw_on":  # a raw note-on with a raw note-off after it
        _, on, channel, pitch = op
        if sched.schedule(now + on * MS, (0x90 | channel, pitch, 64)):
            sched.schedule(now + (on + 30) * MS, (0x80 | channel, pitch, 0))
        return None
    step(sched, clock, op[1] * MS)
    return None


@SETTINGS
@given(ops, st.booleans())
def test_property_stop_with_panic_leaves_nothing_sounding(script, hard) -> None:
    """For any scheduled notes and any stop point, stop(panic=True) leaves nothing sounding."""
    sched, port, clock = make()
    refused = 0
    for op in script:
        refused += apply(sched, clock, op) is False
    sched.stop(panic=True, hard=hard)
    assert not sched.is_running
    sent = port.messages()
    assert hanging(sent) == set()
    assert sched.ledger.sounding() == set()
    assert sched.pending() == 0
    assert sched.stats.rejected_past >= refused
    used = {m[0] & 0x0F for m in sent if is_note_on(m)}
    for channel in used:
        assert (0xB0 | channel, 123, 0) in sent and (0xB0 | channel, 64, 0) in sent
        assert ((0xB0 | channel, 120, 0) in sent) == hard


cancels = st.tuples(st.just("cancel"), st.integers(-100, 400), st.sampled_from([None, 0, 1, 2]))


@SETTINGS
@given(st.lists(st.one_of(ops, st.lists(cancels, min_size=1, max_size=1)), max_size=8))
def test_property_cancel_from_never_leaves_a_note_hanging(chunks) -> None:
    """After cancel_from, no note-on at/after t remains on that channel and every note ends."""
    sched, port, clock = make()
    for chunk in chunks:  # runs of notes and steps, with barge-ins between them
        for op in chunk:
            if op[0] != "cancel":
                apply(sched, clock, op)
                continue
            _, at, channel = op
            t_cancel = clock.now_ns() + at * MS
            end = max(t_cancel, clock.now_ns())
            sched.cancel_from(t_cancel, channel)
            for t, message in sched.queued():
                if channel is None or message[0] & 0x0F == channel:
                    assert not (is_note_on(message) and t >= t_cancel)
                    assert not (is_note_off(message) and t > end)
    step(sched, clock, 10_000 * MS)  # play everything out, no panic
    assert hanging(port.messages()) == set()
    assert sched.ledger.sounding() == set()


def test_cancel_from_drops_unstarted_notes_and_ends_sounding_ones() -> None:
    """Barge-in drops later notes with their offs, and moves sounding notes' offs to t."""
    sched, port, clock = make()
    t0 = clock.now_ns()
    sched.schedule_note(t0, t0 + 500 * MS, 0, 60, 100)  # sounding at the barge-in
    sched.schedule_note(t0 + 300 * MS, t0 + 400 * MS, 0, 62, 100)  # not started: dropped
    sched.schedule_note(t0 + 300 * MS, t0 + 400 * MS, 1, 64, 100)  # other channel: kept
    step(sched, clock, 100 * MS)
    assert sched.cancel_from(t0 + 200 * MS, channel=0) == 2
    assert sched.stats.dropped == 2
    assert sched.queued() == [
        (t0 + 200 * MS, (0x80, 60, 0)),
        (t0 + 300 * MS, (0x91, 64, 100)),
        (t0 + 400 * MS, (0x81, 64, 0)),
    ]
    step(sched, clock, 1000 * MS)
    assert hanging(port.messages()) == set()


def test_cancel_from_in_the_past_ends_notes_now() -> None:
    """A barge-in time already past moves note-offs to now, never into the past."""
    sched, port, clock = make()
    t0 = clock.now_ns()
    sched.schedule_note(t0, t0 + 500 * MS, 0, 60, 100)
    step(sched, clock, 100 * MS)
    sched.cancel_from(t0 + 50 * MS)
    assert sched.queued() == [(clock.now_ns(), (0x80, 60, 0))]


def test_panic_clears_queue_sends_offs_and_flushes() -> None:
    """panic() drops the queue, ends sounding notes with CCs, and waits flush_s before return."""
    sched, port, clock = make(flush_s=0.02)
    t0 = clock.now_ns()
    sched.schedule_note(t0, t0 + 500 * MS, 3, 60, 100)
    sched.schedule_note(t0 + 100 * MS, t0 + 500 * MS, 3, 62, 100)
    step(sched, clock, 0)
    start = time.perf_counter()
    assert sched.panic(hard=True) == 4
    assert time.perf_counter() - start >= 0.02
    assert port.messages()[1:] == [(0x83, 60, 0), (0xB3, 64, 0), (0xB3, 123, 0), (0xB3, 120, 0)]
    assert sched.pending() == 0 and sched.stats.dropped == 3
    assert hanging(port.messages()) == set()


def test_stop_is_safe_twice_and_without_start() -> None:
    """stop() without start panics; a second stop sends only the channel resets again."""
    sched, port, clock = make()
    sched.schedule(clock.now_ns(), (0x90, 60, 100))
    step(sched, clock, 0)
    sched.stop()
    sched.stop()
    assert port.messages() == [(0x90, 60, 100), (0x80, 60, 0), (0xB0, 64, 0), (0xB0, 123, 0)] + [
        (0xB0, 64, 0),
        (0xB0, 123, 0),
    ]


def test_panic_survives_a_vanished_port() -> None:
    """A panic on a port that is gone logs and returns instead of raising."""
    sched, port, clock = make()
    sched.schedule(clock.now_ns(), (0x90, 60, 100))
    step(sched, clock, 0)
    port.vanish()
    assert sched.panic() == 0
    assert sched.ledger.sounding() == set()


# -- the send thread (real time) --------------------------------------------------------------


def wait_for(predicate, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def test_port_error_sets_error_panics_and_stops_the_thread() -> None:
    """An exception from the port stops the thread, sets error, panics, and calls on_error."""
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock, fail_after=2, fail_count=1)
    failed = threading.Event()
    seen: list[BaseException] = []
    sched = Scheduler(port, clock, flush_s=0.0, on_error=lambda e: (seen.append(e), failed.set()))
    t0 = clock.now_ns() + 20 * MS
    for i in range(4):  # two note-ons go out, the third raises
        sched.schedule_note(t0 + i * MS, t0 + (10 + i) * MS, 0, 60 + i, 100)
    sched.start()
    assert failed.wait(5.0), "on_error was not called"
    assert wait_for(lambda: not sched.is_running)
    assert isinstance(sched.error, PortVanishedError) and seen == [sched.error]
    assert port.failed == [(0x90, 62, 100)]  # never sounded: not in the panic
    assert port.messages()[2:] == [(0x80, 60, 0), (0x80, 61, 0), (0xB0, 64, 0), (0xB0, 123, 0)]
    assert hanging(port.messages()) == set()
    assert sched.pending() == 0
    sched.stop()  # still safe afterwards


def test_vanished_port_stops_the_thread_quietly() -> None:
    """A port that is gone for good stops the thread with error set; nothing raises."""
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock, fail_after=0)
    sched = Scheduler(port, clock, flush_s=0.0)
    sched.schedule(clock.now_ns() + 5 * MS, (0x90, 60, 100))
    sched.start()
    assert wait_for(lambda: sched.error is not None and not sched.is_running)
    sched.stop()
    assert port.messages() == []


def test_stop_mid_stream_with_the_thread_leaves_nothing_sounding() -> None:
    """Stopping the running thread in the middle of overlapping notes ends all of them."""
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock)
    sched = Scheduler(port, clock, flush_s=0.0)
    t0 = clock.now_ns() + 5 * MS
    for i in range(60):
        sched.schedule_note(t0 + i * 3 * MS, t0 + (i * 3 + 40) * MS, i % 2, 60 + i % 3, 100)
    sched.start()
    time.sleep(0.08)
    sched.stop()
    assert not sched.is_running and sched.error is None
    assert any(is_note_on(m) for m in port.messages())
    assert hanging(port.messages()) == set()
    assert sched.ledger.sounding() == set()


def test_thread_sends_on_time_with_a_real_clock() -> None:
    """With a monotonic clock the thread sends each event within a few ms of its deadline."""
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock)
    sched = Scheduler(port, clock, flush_s=0.0)
    sched.start()
    t0 = clock.now_ns() + 50 * MS
    deadline = {}
    # A far event first, then earlier ones: schedule() must wake the waiting thread.
    sched.schedule(t0 + 1500 * MS, (0xB0, 1, 0))
    deadline[(0xB0, 1, 0)] = t0 + 1500 * MS
    time.sleep(0.01)
    for i in range(200):  # 400 messages over 1.2 s
        on, off = t0 + i * 6 * MS, t0 + (i * 6 + 4) * MS
        ch, pitch = i // 100, i % 100
        sched.schedule_note(on, off, ch, pitch, 100)
        deadline[(0x90 | ch, pitch, 100)], deadline[(0x80 | ch, pitch, 0)] = on, off
    assert wait_for(lambda: sched.pending() == 0, timeout_s=10.0)
    sched.stop()
    late = sorted(t - deadline[m] for t, m in port.sent if m in deadline)
    assert len(late) == 401 and sched.error is None
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99)]
    print(
        f"\nscheduler lateness: median {p50 / 1e6:.3f} ms, p99 {p99 / 1e6:.3f} ms,"
        f" max {late[-1] / 1e6:.3f} ms, mean {statistics.mean(late) / 1e6:.3f} ms"
    )
    assert late[0] >= 0, "sent before its deadline"
    assert p99 < 20 * MS
    assert hanging(port.messages()) == set()


def test_thread_sends_ahead_with_a_real_clock() -> None:
    """The thread wakes for the send time, not the deadline: every message is handed over
    between send_ahead_ns before its deadline and the deadline (a generous bound)."""
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock)
    ahead = 3 * MS
    sched = Scheduler(port, clock, flush_s=0.0, send_ahead_ns=ahead)
    t0 = clock.now_ns() + 30 * MS
    deadlines = {(0xB0, 1, i): t0 + i * 7 * MS for i in range(40)}
    for message, t in deadlines.items():
        sched.schedule(t, message)
    with sched:
        assert wait_for(lambda: sched.pending() == 0, timeout_s=5.0)
    early = sorted(deadlines[m] - t for t, m in port.sent if m in deadlines)
    assert len(early) == 40
    assert early[-1] <= ahead, "sent before its send time"
    assert early[len(early) // 2] > 0, "the thread waited for the deadline"


def test_realtime_priority_is_asked_for_and_refusal_is_harmless(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rt_priority asks for SCHED_FIFO on the send thread itself (pid 0); refused, the
    thread sends as before and ``realtime`` stays False."""
    import os

    asked: list[tuple[int, int, int, str]] = []

    def refuse(pid: int, policy: int, param: os.sched_param) -> None:
        asked.append((pid, policy, param.sched_priority, threading.current_thread().name))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    clock = MonotonicClock()
    port = FakeOutputPort("synth", clock=clock)
    sched = Scheduler(port, clock, flush_s=0.0, rt_priority=3)
    sched.schedule(clock.now_ns() + 5 * MS, (0x90, 60, 100))
    with sched:
        assert wait_for(lambda: sched.pending() == 0)
    assert asked == [(0, os.SCHED_FIFO, 3, "rtgen-scheduler")]
    assert not sched.realtime and sched.error is None
    assert port.messages()[0] == (0x90, 60, 100)

    granted = Scheduler(port, clock, flush_s=0.0, rt_priority=3)
    monkeypatch.setattr(os, "sched_setscheduler", lambda *args: None)
    with granted:
        assert wait_for(lambda: granted.realtime)
