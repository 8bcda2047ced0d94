"""BeatClock, the wall clocks, the MIDI clock follower and the clock sender: exact, fake time."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.clock import BeatClock, BeatTimeline, Clock, FakeClock, MonotonicClock
from rtgen.engine.midiclock import (
    CLOCK,
    CONTINUE,
    SONG_POSITION,
    START,
    STOP,
    ClockSender,
    MidiClockFollower,
)

MS = 1_000_000
T0 = 10**15  # perf_counter_ns after ~12 days of uptime: big numbers must not cost precision
SEEDED = settings(derandomize=True, max_examples=200, deadline=None)

bpms = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False)
origins = st.integers(min_value=0, max_value=10**16)


def period_ns(bpm: float) -> float:
    return 60e9 / bpm


# -- BeatClock ------------------------------------------------------------------------------


@SEEDED
@given(bpm=st.floats(20.0, 1000.0), origin=origins, beat=st.floats(-1e4, 3e5))
def test_beat_time_round_trip(bpm: float, origin: int, beat: float) -> None:
    """time_of is origin + beat * 60/bpm to the nanosecond, and beat_at inverts it.

    (Up to 3e5 beats at 20 BPM, i.e. ten days of music: float64 holds ns exactly that far.)
    """
    clock = BeatClock(bpm, origin_ns=origin)
    t = clock.time_of(beat)
    exact = origin + Fraction(beat) * Fraction(60_000_000_000) / Fraction(bpm)
    assert abs(t - exact) <= 1
    assert abs(clock.beat_at(t) - beat) * period_ns(bpm) <= 1.0
    assert abs(clock.time_of(clock.beat_at(t)) - t) <= 1


def test_whole_beats_never_accumulate_error() -> None:
    """At 120 BPM every whole beat up to 1,000,000 lands on an exact integer nanosecond."""
    origin = 123_456_789
    clock = BeatClock(120, origin_ns=origin)
    beats = [*range(0, 1_000_001, 997), 999_999, 1_000_000]
    for n in beats:
        assert clock.time_of(n) == origin + n * 500_000_000
        assert clock.beat_at(origin + n * 500_000_000) == float(n)


@SEEDED
@given(bpm=bpms, new_bpm=bpms, at=st.integers(min_value=0, max_value=10**13))
def test_set_tempo_keeps_the_beat_continuous(bpm: float, new_bpm: float, at: int) -> None:
    """A tempo change leaves the beat at the change where it was; later beats take the new tempo."""
    clock = BeatClock(bpm, origin_ns=0)
    before = clock.beat_at(at)
    clock.set_tempo(new_bpm, at)
    assert abs(clock.beat_at(at) - before) * period_ns(new_bpm) <= 1.0
    assert clock.bpm == pytest.approx(new_bpm)
    assert abs(clock.time_of(before + 1) - at - period_ns(new_bpm)) <= 1


def test_set_tempo_affects_only_the_future() -> None:
    """After 120 -> 60 BPM at beat 4, beat 5 is one second after beat 4, not half a second."""
    clock = BeatClock(120, origin_ns=0)
    clock.set_tempo(60, 2_000_000_000)
    assert clock.beat_at(2_000_000_000) == 4.0
    assert clock.time_of(5) == 3_000_000_000
    assert clock.time_of(4) == 2_000_000_000


def test_next_beat_and_next_bar_edges() -> None:
    """On a beat gives that beat; one nanosecond later gives the next; bars likewise."""
    clock = BeatClock(120, beats_per_bar=4, origin_ns=1_000)
    on_beat_3 = 1_000 + 3 * 500_000_000
    assert clock.next_beat(on_beat_3) == 3.0
    assert clock.next_beat(on_beat_3 - 1) == 3.0
    assert clock.next_beat(on_beat_3 + 1) == 4.0
    assert clock.next_beat(0) == 0.0  # before the origin: beat 0 is still ahead
    on_bar_1 = 1_000 + 4 * 500_000_000
    assert clock.next_bar(on_bar_1) == 4.0
    assert clock.next_bar(on_bar_1 + 1) == 8.0
    assert clock.next_bar(on_beat_3) == 4.0
    assert clock.next_bar(1_000) == 0.0


@SEEDED
@given(bpm=bpms, origin=origins, n=st.integers(min_value=-1000, max_value=10**6))
def test_next_beat_exactly_on_any_beat(bpm: float, origin: int, n: int) -> None:
    """At any tempo, next_beat of a beat's own time is that beat, and of 1 ns later the next."""
    clock = BeatClock(bpm, beats_per_bar=3, origin_ns=origin)
    t = clock.time_of(n)
    assert clock.next_beat(t) == n
    assert clock.next_beat(t + 1) == n + 1
    bar = clock.next_bar(t)
    assert bar % 3 == 0 and clock.time_of(bar) >= t and clock.time_of(bar - 3) < t


def test_bar_of_counts_from_beat_zero() -> None:
    """Bar k spans beats [k * beats_per_bar, (k + 1) * beats_per_bar); before zero is bar -1."""
    clock = BeatClock(100, beats_per_bar=3)
    assert [clock.bar_of(b) for b in (0.0, 2.99, 3.0, 5.5, 6.0, -0.5)] == [0, 0, 1, 1, 2, -1]


@pytest.mark.parametrize("bad", [0, -1, 1000.001, math.nan, math.inf, "fast", None])
def test_invalid_bpm_is_a_clear_error(bad: object) -> None:
    """A tempo outside 0 < bpm <= 1000 (or not a number) is a ValueError naming the range."""
    with pytest.raises(ValueError, match="tempo"):
        BeatClock(bad)  # type: ignore[arg-type]
    clock = BeatClock(90)
    with pytest.raises(ValueError, match="tempo"):
        clock.set_tempo(bad, 10)  # type: ignore[arg-type]
    assert clock.bpm == 90.0  # a refused change changes nothing
    assert BeatClock(1000).bpm == 1000.0


def test_invalid_beats_per_bar() -> None:
    """A bar has a whole number of beats, at least one."""
    with pytest.raises(ValueError, match="beats_per_bar"):
        BeatClock(120, beats_per_bar=0)


# -- wall clocks ----------------------------------------------------------------------------


def test_fake_clock_moves_only_forward() -> None:
    """FakeClock moves by advance/set/sleep_until only, never backwards."""
    clock = FakeClock(100)
    clock.advance(50)
    assert clock.now_ns() == 150
    clock.set(1_000)
    clock.sleep_until(900)  # a past deadline: returns at once, time stays
    assert clock.now_ns() == 1_000
    clock.sleep_until(2_000)
    assert clock.now_ns() == 2_000
    with pytest.raises(ValueError):
        clock.set(1_999)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_clocks_and_timelines_satisfy_their_protocols() -> None:
    """Both wall clocks are Clocks; BeatClock and the follower are BeatTimelines."""
    assert isinstance(FakeClock(), Clock) and isinstance(MonotonicClock(), Clock)
    assert isinstance(BeatClock(120), BeatTimeline)
    assert isinstance(MidiClockFollower(), BeatTimeline)


def test_monotonic_sleep_until_never_returns_early() -> None:
    """MonotonicClock.sleep_until returns at or after the deadline (sleep, then spin)."""
    clock = MonotonicClock()
    for wait in (0, 300_000, 2 * MS):
        deadline = clock.now_ns() + wait
        clock.sleep_until(deadline)
        assert time.perf_counter_ns() >= deadline


# -- MidiClockFollower ----------------------------------------------------------------------


def tick_times(bpm: float, ticks: int, start: float = T0) -> np.ndarray:
    """True (unjittered) times of ``ticks`` ticks at 24 per beat, float ns."""
    return start + np.arange(ticks) * period_ns(bpm) / 24


def feed_ticks(follower: MidiClockFollower, stamps) -> None:
    for t in stamps:
        follower.feed(CLOCK, int(t))


def follow_with_jitter(bpm: float, beats: int, seed: int) -> tuple[list[float], list[float]]:
    """Tempo errors (%) after two beats and phase errors (ms) at each beat from beat 2."""
    rng = np.random.default_rng(seed)
    true = tick_times(bpm, beats * 24 + 1)
    stamps = np.rint(true + rng.uniform(-2 * MS, 2 * MS, true.size)).astype(np.int64)
    follower = MidiClockFollower()
    follower.feed(START, int(stamps[0]) - MS)
    tempo_err, phase_ms = [], []
    for k, stamp in enumerate(stamps):
        follower.feed(CLOCK, int(stamp))
        if k >= 47:  # 48 ticks = two beats seen
            tempo_err.append(abs(follower.bpm / bpm - 1) * 100)
        if k % 24 == 0 and k >= 48:
            beat = k / 24
            phase_ms.append((follower.beat_at(round(true[k])) - beat) * period_ns(bpm) / MS)
    return tempo_err, phase_ms


@pytest.mark.parametrize("bpm", [90, 120, 180])
def test_follower_averages_out_jitter(bpm: int) -> None:
    """With ±2 ms jitter the tempo is within 0.5% after two beats and the phase within 2 ms."""
    tempo_err, phase_ms = follow_with_jitter(bpm, beats=32, seed=bpm)
    assert max(tempo_err) < 0.5
    assert max(abs(p) for p in phase_ms) <= 2.0


def test_follower_follows_a_tempo_change_within_two_beats() -> None:
    """120 -> 140 BPM: two beats after the change the measured tempo is within 0.5% of 140."""
    rng = np.random.default_rng(7)
    before = tick_times(120, 4 * 24)
    after = tick_times(140, 8 * 24 + 1, start=before[-1] + period_ns(120) / 24)
    follower = MidiClockFollower()
    follower.feed(START, T0 - MS)
    feed_ticks(follower, np.rint(before + rng.uniform(-2 * MS, 2 * MS, before.size)))
    assert follower.bpm == pytest.approx(120, rel=0.005)
    jittered = np.rint(after + rng.uniform(-2 * MS, 2 * MS, after.size))
    for k, stamp in enumerate(jittered):
        follower.feed(CLOCK, int(stamp))
        if k >= 47:
            assert follower.bpm == pytest.approx(140, rel=0.005), k


def test_start_makes_the_first_tick_beat_zero_and_interpolates() -> None:
    """After Start the first tick is beat 0; between clean ticks beat_at interpolates."""
    follower = MidiClockFollower()
    assert follower.bpm is None and not follower.running
    follower.feed(START, T0 - 5 * MS)
    assert follower.running
    tick = period_ns(100) / 24
    feed_ticks(follower, tick_times(100, 49))
    assert follower.bpm == pytest.approx(100, rel=1e-9)
    assert follower.beat_at(T0) == pytest.approx(0.0, abs=1e-9)
    assert follower.beat_at(round(T0 + 24.5 * tick)) == pytest.approx(24.5 / 24, abs=1e-9)
    assert follower.beat_at(round(T0 + 60 * tick)) == pytest.approx(2.5, abs=1e-9)  # ahead
    assert follower.time_of(3.0) == pytest.approx(T0 + 72 * tick, abs=2)
    assert follower.next_beat(round(T0 + 49 * tick)) == 3.0
    assert follower.next_bar(round(T0 + 49 * tick)) == 4.0


def test_stop_holds_the_position_and_continue_resumes_it() -> None:
    """Stop freezes beat_at at the song position; Continue's next tick marks that position."""
    follower = MidiClockFollower()
    follower.feed(START, T0 - MS)
    tick = period_ns(120) / 24
    feed_ticks(follower, tick_times(120, 36))  # beats 0 .. 35/24
    follower.feed(STOP, round(T0 + 35.5 * tick))
    assert not follower.running
    assert follower.beat_at(T0 + 10**9) == follower.beat_at(T0 + 10**10) == 1.5
    follower.feed(CONTINUE, T0 + 10**10)
    restart = T0 + 10**10 + 5 * MS
    feed_ticks(follower, tick_times(120, 24, start=restart))
    assert follower.running
    assert follower.beat_at(restart) == pytest.approx(1.5, abs=1e-6)
    assert follower.bpm == pytest.approx(120, rel=1e-6)  # the old tempo bridged the gap


def test_song_position_pointer_sets_the_beat_of_the_next_tick() -> None:
    """SPP 16 sixteenths while stopped, then Continue: the next tick is beat 4.0."""
    follower = MidiClockFollower()
    follower.feed(SONG_POSITION, T0, (16, 0))
    assert follower.beat_at(T0) == 4.0
    follower.feed(CONTINUE, T0 + MS)
    feed_ticks(follower, tick_times(120, 25, start=T0 + 2 * MS))
    assert follower.beat_at(T0 + 2 * MS) == pytest.approx(4.0, abs=1e-9)
    assert follower.beat_at(round(T0 + 2 * MS + period_ns(120))) == pytest.approx(5.0, abs=1e-9)
    follower.feed(SONG_POSITION, T0 + 10**9, (0, 1))  # while running: ignored
    follower.feed(STOP, T0 + 10**9)
    follower.feed(SONG_POSITION, T0 + 10**9, (200, 0))  # not a data byte: ignored
    assert follower.ignored == 2
    follower.feed(SONG_POSITION, T0 + 10**9, (0, 1))  # 128 sixteenths = beat 32
    assert follower.beat_at(T0 + 10**9) == 32.0


def test_ticks_while_stopped_give_tempo_but_not_position() -> None:
    """A DAW that clocks while stopped: the tempo is known, the position stays put."""
    follower = MidiClockFollower()
    feed_ticks(follower, tick_times(150, 48))
    assert not follower.running and follower.bpm == pytest.approx(150, rel=1e-9)
    assert follower.beat_at(T0 + 10**9) == 0.0
    next_tick = round(T0 + 48 * period_ns(150) / 24)
    follower.feed(START, next_tick - MS)
    assert follower.time_of(0.0) == pytest.approx(next_tick, abs=2)  # predicted before it ticks
    follower.feed(CLOCK, next_tick)
    assert follower.beat_at(next_tick) == pytest.approx(0.0, abs=1e-9)


def test_dropout_is_detected_and_recovery_keeps_the_phase() -> None:
    """No tick for 250 ms (at 120 BPM) means not alive; when ticks resume the beat is right."""
    follower = MidiClockFollower()
    follower.feed(START, T0 - MS)
    true = tick_times(120, 24 * 8)
    feed_ticks(follower, true[:48])
    last = int(true[47])
    assert follower.is_alive(last + 250 * MS)
    assert not follower.is_alive(last + 250 * MS + 1)
    feed_ticks(follower, true[120:])  # 72 ticks (1.5 s) lost; the DAW kept playing
    assert follower.is_alive(int(true[-1]))
    assert follower.beat_at(round(true[144])) == pytest.approx(6.0, abs=1e-6)
    assert follower.bpm == pytest.approx(120, rel=1e-6)


def test_dropout_scales_with_a_slow_clock() -> None:
    """At 20 BPM three tick periods (375 ms) exceed 250 ms, so they set the dropout."""
    follower = MidiClockFollower()
    feed_ticks(follower, tick_times(20, 10))
    assert follower.dropout_ns() == pytest.approx(375 * MS, abs=1)


# -- ClockSender ----------------------------------------------------------------------------


def exact_tick_ns(origin: int, first_beat: int, n: int) -> int:
    """Tick n at 120 BPM, rounded half up from exact rational arithmetic."""
    return origin + math.floor(Fraction(first_beat * 24 + n, 24) * 500_000_000 + Fraction(1, 2))


def test_sender_starts_then_ticks_24_per_beat_at_exact_times() -> None:
    """Start goes first, then tick n falls exactly on time_of(first_beat + n/24)."""
    origin = 7_000
    sent: list[tuple[int, ...]] = []
    sender = ClockSender(BeatClock(120, origin_ns=origin), sent.append)
    sender.start(origin + 1)  # the next bar line: beat 4
    assert sent == [(START,)]
    for n in range(4 * 24 + 1):
        due = sender.next_due_ns()
        assert due == exact_tick_ns(origin, 4, n)
        assert sender.due_messages(due - 1) == []
        assert sender.pump(due) == 1
    assert sent[1:] == [(CLOCK,)] * 97
    assert sender.due_messages(sender.next_due_ns() - 1) == []


def test_sender_never_sends_a_tick_twice() -> None:
    """Polled at irregular times, each tick comes once, late ones at the next poll."""
    sender = ClockSender(BeatClock(137, origin_ns=0), lambda m: None)
    sender.start(0, at_beat=0)
    rng = np.random.default_rng(3)
    polls = np.cumsum(rng.integers(0, 40 * MS, 400))
    got = 0
    for t in polls:
        got += len(sender.due_messages(int(t)))
        assert sender.due_messages(int(t)) == []
    clock = sender.clock
    expected = sum(1 for n in range(got + 50) if clock.time_of(n / 24) <= polls[-1])
    assert got == expected


def test_sender_stop_sends_stop_and_no_more_ticks() -> None:
    """stop() sends 0xFC at once and later polls hand out nothing."""
    sent: list[tuple[int, ...]] = []
    sender = ClockSender(BeatClock(120), sent.append)
    sender.start(0)
    sender.pump(10**9)
    sender.stop()
    assert sent[0] == (START,) and sent[-1] == (STOP,) and len(sent) == 2 + 49
    assert sender.next_due_ns() is None and sender.due_messages(10**12) == []
    assert not sender.running


def test_sender_follows_a_tempo_change_without_a_burst() -> None:
    """After set_tempo the next tick is one new-tempo tick period on, not a catch-up burst."""
    clock = BeatClock(120, origin_ns=0)
    sender = ClockSender(clock, lambda m: None)
    sender.start(0)
    assert len(sender.due_messages(10**9)) == 49  # beats 0..2 inclusive
    clock.set_tempo(60, 10**9)
    assert sender.due_messages(10**9 + 41_666_666) == []
    assert sender.next_due_ns() == 10**9 + 41_666_667  # 1/24 beat at 60 BPM


def test_sender_refuses_to_start_on_a_past_beat() -> None:
    """Starting on a beat already gone would burst ticks out at once: a ValueError instead."""
    sender = ClockSender(BeatClock(120), lambda m: None)
    with pytest.raises(ValueError, match="past"):
        sender.start(10**9, at_beat=1.0)


def test_a_clock_restarted_off_grid_at_start_is_refitted() -> None:
    """A DAW that restarts its clock phase at Start: the first tick is beat 0 where it lands."""
    follower = MidiClockFollower()
    true = tick_times(120, 48)
    feed_ticks(follower, true)
    follower.feed(START, int(true[-1]) + MS)
    first = round(true[-1] + 1.5 * period_ns(120) / 24)  # half a tick period off the old grid
    follower.feed(CLOCK, first)
    assert follower.fit_ticks == 1
    assert follower.beat_at(first) == 0.0
    assert follower.bpm == pytest.approx(120, rel=1e-9)  # the tempo carries over
