"""Metronome clicks and outgoing MIDI clock, queued a beat ahead through the scheduler."""

from __future__ import annotations

from rtgen.beatsender import CLICK, CLICK_ACCENT, METRONOME_CHANNEL, BeatSender
from rtgen.config import PlaySettings
from rtgen.engine.clock import BeatClock, FakeClock
from rtgen.engine.portproto import FakeOutputPort
from rtgen.engine.scheduler import Scheduler
from rtgen.midi import CLOCK, START, STOP

BEAT = 500_000_000  # 120 BPM


def _rig(**settings: object) -> tuple[BeatSender, Scheduler, FakeClock, BeatClock]:
    clock = FakeClock(0)
    timeline = BeatClock(120, 4, origin_ns=BEAT)
    sched = Scheduler(FakeOutputPort(clock=clock), clock, flush_s=0.0)
    s = PlaySettings(**settings).validate()
    return BeatSender(timeline, sched, clock.now_ns, s), sched, clock, timeline


def test_clock_out_is_start_then_24_ticks_a_beat_at_exact_times() -> None:
    """Start 1 ns before the first tick, then each beat's 24 ticks at time_of(b + k/24)."""
    sender, sched, clock, timeline = _rig(send_clock=True)
    clock.set(BEAT - 80_000_000)  # the plan deadline of beat 0
    sender.ahead(clock.now_ns())
    sender.ahead(clock.now_ns())  # a second tick call in the same beat adds nothing new
    clock.set(2 * BEAT - 80_000_000)
    sender.ahead(clock.now_ns())
    queued = sched.queued()
    assert queued[0] == (BEAT - 1, (START,))
    ticks = [t for t, m in queued if m == (CLOCK,)]
    assert ticks == [timeline.time_of(n / 24) for n in range(3 * 24)]


def test_clicks_accent_the_bar_and_a_missed_beat_is_skipped() -> None:
    """Beat 0 of a bar gets the accent; after a stall the beats that passed get nothing."""
    sender, sched, clock, timeline = _rig(metronome=True)
    for beat in (0, 1):
        clock.set(timeline.time_of(beat) - 80_000_000)  # the beat's plan deadline
        sender.ahead(clock.now_ns())
    clock.set(timeline.time_of(5.5))  # the loop stalled for four beats
    sender.ahead(clock.now_ns())
    ons = [(t, m) for t, m in sched.queued() if m[0] == 0x90 | METRONOME_CHANNEL]
    assert [(timeline.beat_at(t), m[1]) for t, m in ons] == [
        (0.0, CLICK_ACCENT),
        (1.0, CLICK),
        (6.0, CLICK),
    ]


def test_stop_sends_stop_at_once() -> None:
    """At the end Stop is queued for now; without a sent clock nothing is."""
    sender, sched, clock, _ = _rig(send_clock=True)
    sender.ahead(clock.now_ns())
    sender.stop()
    assert (clock.now_ns() + 1_000_000, (STOP,)) in sched.queued()
    quiet, sched2, _, _ = _rig(metronome=True)
    quiet.stop()
    assert sched2.queued() == []


def test_after_the_player_sets_the_tempo_clicks_and_ticks_follow_the_new_grid() -> None:
    """Clicks and ticks queued on 120 BPM, then the grid moves to 96 BPM (a tap count):
    what was queued on the old grid is dropped, and everything queued follows the new one,
    the tick count going on without a second Start."""
    sender, sched, clock, timeline = _rig(metronome=True, send_clock=True)
    clock.set(timeline.time_of(2) - 80_000_000)
    sender.ahead(clock.now_ns())
    now = timeline.time_of(2.3)
    clock.set(now)
    timeline.realign(96, now - 100_000_000, now, 0.0)
    sender.retime(now)
    queued = sched.queued()
    clicks = [t for t, m in queued if m[0] == 0x90 | METRONOME_CHANNEL]
    ticks = [t for t, m in queued if m == (CLOCK,)]
    assert clicks and ticks
    for t in clicks:
        assert timeline.beat_at(t) == round(timeline.beat_at(t))  # on the new grid's beats
    for t in ticks:
        assert abs(timeline.beat_at(t) * 24 - round(timeline.beat_at(t) * 24)) < 1e-6
    assert [m for _, m in queued].count((START,)) <= 1  # queued once, at the start
