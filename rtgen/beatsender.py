"""Metronome clicks and outgoing MIDI clock for `rtgen play`, queued a beat ahead.

The live loop calls :meth:`BeatSender.ahead` after each engine tick (a few times a beat):
the next beat's click (GM woodblocks on the drum channel, accented on the bar) and its 24
clock ticks (:class:`rtgen.engine.midiclock.ClockSender`, Start before the first) go into the
scheduler with their absolute times, so they are sent on time by its thread, not by the loop.
A beat the loop missed (it stalled) gets neither click nor ticks: nothing is sent late.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rtgen.config import PlaySettings
from rtgen.engine.clock import BeatTimeline
from rtgen.engine.midiclock import ClockSender
from rtgen.engine.scheduler import Scheduler
from rtgen.midi import CLOCK, NOTE_ON, START, Message

METRONOME_CHANNEL, CLICK_ACCENT, CLICK = 9, 76, 77  # GM woodblocks on the drum channel
CLICK_NS = 50_000_000  # a click's note length
AHEAD_NS = 1_000_000  # "send now" through the scheduler ("now + 1 ns" is past when it lands)
STOP_FLUSH_S = 0.005  # time for Stop to go out before the scheduler stops


class BeatSender:
    """Clicks (``metronome``) and MIDI clock (``send_clock``) on ``timeline``'s beats."""

    def __init__(
        self,
        timeline: BeatTimeline,
        scheduler: Scheduler,
        now_ns: Callable[[], int],
        settings: PlaySettings,
    ) -> None:
        self.timeline, self.scheduler, self._now = timeline, scheduler, now_ns
        self.metronome = settings.metronome
        self.clock = ClockSender(timeline, self._send_at_once) if settings.send_clock else None
        self.next_beat: int | None = None  # the next beat to queue

    def _send_at_once(self, message: Message) -> None:
        """ClockSender's Start and Stop: Start just before the first tick, Stop now."""
        if message == (START,) and self.clock is not None:
            t = self.clock.next_due_ns()
            self.scheduler.schedule((t if t is not None else self._now()) - 1, message)
        else:
            self.scheduler.schedule(self._now() + AHEAD_NS, message)

    def ahead(self, now: int) -> None:
        """Queue the coming beat's click and clock ticks, if not queued yet."""
        if not (self.metronome or self.clock):
            return
        beat = int(self.timeline.next_beat(now))
        if self.next_beat is None or self.next_beat < beat:
            self.next_beat = beat  # beats the loop missed are skipped, not sent late
        if self.next_beat > beat + 1:
            return
        b = self.next_beat
        t = self.timeline.time_of(b)
        if self.metronome:
            note = CLICK_ACCENT if b % self.timeline.beats_per_bar == 0 else CLICK
            self.scheduler.schedule_note(t, t + CLICK_NS, METRONOME_CHANNEL, note, 90)
        if self.clock is not None:
            if not self.clock.running:  # as master: Start, then 24 ticks per beat
                self.clock.start(now, at_beat=b)
            for t_tick, tick in self.clock.due_until(self.timeline.time_of(b + 1) - 1):
                if t_tick >= t:  # the ticks of a skipped beat are not sent
                    self.scheduler.schedule(t_tick, tick)
        self.next_beat = b + 1

    def retime(self, now: int) -> None:
        """The player moved the grid (--bpm auto, tap tempo): the clicks and ticks queued on
        the old one are dropped, and the coming ones follow the new grid."""
        if not (self.metronome or self.clock):
            return

        def old(message: Message) -> bool:
            click = message[0] == NOTE_ON | METRONOME_CHANNEL
            return click or message == (CLOCK,)

        self.scheduler.drop_queued(old)
        if self.clock is not None:
            self.clock.rebase(now)
        self.next_beat = None
        self.ahead(now)

    def stop(self) -> None:
        """The jam ends (sent clock only): queued note-ons are dropped (their note-offs move
        to now), then Stop goes out, given a few ms before the scheduler stops."""
        if self.clock is None or not self.clock.running:
            return
        self.scheduler.cancel_from(0)
        self.clock.stop()
        time.sleep(STOP_FLUSH_S)
