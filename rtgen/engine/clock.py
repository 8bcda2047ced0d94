"""Time for the engine: "now" (a wall clock) and "which beat is it" (a beat timeline).

Two separate ideas, two protocols:

- ``Clock`` answers "now" in ``time.perf_counter_ns()`` nanoseconds and sleeps until an absolute
  deadline. ``MonotonicClock`` is the real one; ``FakeClock`` is set by hand, so unit tests
  simulate minutes of music in milliseconds with exact assertions.
- ``BeatTimeline`` maps nanoseconds to beats and back. ``BeatClock`` is rtgen's own tempo;
  ``rtgen.engine.midiclock.MidiClockFollower`` follows a DAW's MIDI clock. The planner takes
  either.

Invariant (DESIGN.md, real-time rules): a beat's time is computed from an origin,
``t = origin_ns + (beat - origin_beat) * ns_per_beat``, never by adding up periods or sleeps, so
error never accumulates. Nothing here except ``MonotonicClock`` reads the system time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

NS_PER_MINUTE = 60_000_000_000
MAX_BPM = 1000.0


def check_bpm(bpm: float) -> float:
    """``bpm`` as a float, or ValueError saying what a tempo must be."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise ValueError(f"tempo {bpm!r} is not a number of beats per minute") from None
    if not (math.isfinite(value) and 0.0 < value <= MAX_BPM):
        raise ValueError(f"tempo {bpm!r} BPM is outside the range 0 < bpm <= {MAX_BPM:g}")
    return value


@dataclass(frozen=True)
class TempoLine:
    """One straight line between time and beats: ``beat0`` falls at ``t0_ns``.

    Immutable, so a reader on another thread sees a whole line or the next one, never a mix:
    tempo changes replace the line, they never edit it.
    """

    t0_ns: int
    beat0: float
    ns_per_beat: float

    @property
    def bpm(self) -> float:
        return NS_PER_MINUTE / self.ns_per_beat

    def beat_at(self, t_ns: int) -> float:
        # The integer difference first: perf_counter_ns values are large, their gaps small.
        return self.beat0 + (t_ns - self.t0_ns) / self.ns_per_beat

    def time_of(self, beat: float) -> int:
        return self.t0_ns + round((beat - self.beat0) * self.ns_per_beat)

    def first_multiple_at_or_after(self, t_ns: int, step: int) -> float:
        """The first beat ``n * step`` (n whole) whose time is at or after ``t_ns``.

        Decided in integer nanoseconds, so a time exactly on a beat gives that beat, whatever
        rounding ``beat_at`` did on the way.
        """
        n = math.ceil(self.beat_at(t_ns) / step)
        while self.time_of((n - 1) * step) >= t_ns:
            n -= 1
        while self.time_of(n * step) < t_ns:
            n += 1
        return float(n * step)


@runtime_checkable
class BeatTimeline(Protocol):
    """What the engine and the live loop need from a tempo source: beats from times and times
    from beats, the tempo, and whether beats are moving.

    Beats are quarter notes, counted from 0 at the first downbeat; bar ``k`` starts on beat
    ``k * beats_per_bar``. Times are ``time.perf_counter_ns()`` integers. Plan only while
    ``running and is_alive(now)``: rtgen's own clock always runs; a followed MIDI clock runs
    between Start and Stop while its ticks keep coming.
    """

    @property
    def beats_per_bar(self) -> int: ...

    @property
    def bpm(self) -> float | None:
        """The tempo now; None while it is not known yet (no clock ticks seen)."""
        ...

    @property
    def running(self) -> bool:
        """Whether the beats move (a followed clock: between Start and Stop)."""
        ...

    def is_alive(self, now_ns: int) -> bool:
        """Whether the tempo source is there at ``now_ns`` (a followed clock: ticks arrive)."""
        ...

    def beat_at(self, t_ns: int) -> float: ...

    def time_of(self, beat: float) -> int: ...

    def bar_of(self, beat: float) -> int: ...

    def next_beat(self, t_ns: int) -> float: ...

    def next_bar(self, t_ns: int) -> float: ...


class BeatClock:
    """rtgen's own tempo: beat ``b`` sounds at ``origin_ns + b * 60/bpm`` seconds.

    ``set_tempo`` re-anchors the origin at the moment of the change, so the beat position is
    continuous there and later beats follow the new tempo. Whole beats at a tempo whose period
    is a whole number of nanoseconds (120 BPM: 500 ms) land on exact integers forever.
    """

    def __init__(self, bpm: float, beats_per_bar: int = 4, origin_ns: int = 0) -> None:
        if not isinstance(beats_per_bar, int) or beats_per_bar < 1:
            raise ValueError(f"beats_per_bar must be a whole number >= 1, not {beats_per_bar!r}")
        self._beats_per_bar = beats_per_bar
        self._line = TempoLine(int(origin_ns), 0.0, NS_PER_MINUTE / check_bpm(bpm))

    @property
    def bpm(self) -> float:
        return self._line.bpm

    @property
    def beats_per_bar(self) -> int:
        return self._beats_per_bar

    @property
    def running(self) -> bool:
        """rtgen's own clock never stops."""
        return True

    def is_alive(self, now_ns: int) -> bool:
        return True

    @property
    def line(self) -> TempoLine:
        """The current tempo line (origin time, origin beat, period)."""
        return self._line

    def beat_at(self, t_ns: int) -> float:
        return self._line.beat_at(t_ns)

    def time_of(self, beat: float) -> int:
        return self._line.time_of(beat)

    def set_tempo(self, bpm: float, at_ns: int) -> None:
        """From ``at_ns`` on, play at ``bpm``; the beat at ``at_ns`` itself does not move."""
        ns_per_beat = NS_PER_MINUTE / check_bpm(bpm)
        at_ns = int(at_ns)
        self._line = TempoLine(at_ns, self._line.beat_at(at_ns), ns_per_beat)

    def realign(self, bpm: float, beat_ns: int, floor_ns: int, floor_beat: float) -> None:
        """The player's tempo and beat: ``bpm``, with a whole beat at ``beat_ns`` (a tap, a
        call's onset), numbered as the old count numbers it, to the nearest beat, so a
        refinement moves the count by a hair, not a beat. Never below ``floor_beat`` at
        ``floor_ns``: what the model has heard (up to the floor) stays before what it has
        yet to hear."""
        ns_per_beat = NS_PER_MINUTE / check_bpm(bpm)
        whole = round(self._line.beat_at(beat_ns))
        at_floor = whole + (floor_ns - beat_ns) / ns_per_beat
        if at_floor < floor_beat:
            whole += math.ceil(floor_beat - at_floor - 1e-9)
        self._line = TempoLine(int(beat_ns), float(whole), ns_per_beat)

    def bar_of(self, beat: float) -> int:
        return math.floor(beat / self._beats_per_bar)

    def next_beat(self, t_ns: int) -> float:
        """The first whole beat at or after ``t_ns`` (``t_ns`` itself when it is on a beat)."""
        return self._line.first_multiple_at_or_after(t_ns, 1)

    def next_bar(self, t_ns: int) -> float:
        """The beat of the first bar line at or after ``t_ns``."""
        return self._line.first_multiple_at_or_after(t_ns, self._beats_per_bar)


@runtime_checkable
class Clock(Protocol):
    """The engine's "now": monotonic nanoseconds, and a sleep to an absolute deadline."""

    def now_ns(self) -> int: ...

    def sleep_until(self, t_ns: int) -> None: ...


class MonotonicClock:
    """The real clock: ``time.perf_counter_ns()``.

    ``sleep_until`` sleeps while the deadline is far, then spins (yielding the GIL) for the last
    ``spin_ns``: ``time.sleep`` alone can overshoot by a scheduler tick, which is audible.
    """

    def __init__(self, spin_ns: int = 500_000, max_sleep_ns: int = 50_000_000) -> None:
        self.spin_ns = spin_ns
        self.max_sleep_ns = max_sleep_ns  # coarse steps, so a long wait re-checks the time

    def now_ns(self) -> int:
        return time.perf_counter_ns()

    def sleep_until(self, t_ns: int) -> None:
        while True:
            remaining = t_ns - time.perf_counter_ns()
            if remaining <= 0:
                return
            if remaining > self.spin_ns:
                time.sleep(min(remaining - self.spin_ns, self.max_sleep_ns) / 1e9)
            else:
                time.sleep(0)  # spin, but let other threads (inference) have the GIL


class FakeClock:
    """A clock moved only by hand, for exact tests. It never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = int(start_ns)

    def now_ns(self) -> int:
        return self._now

    def set(self, t_ns: int) -> None:
        if t_ns < self._now:
            raise ValueError(f"FakeClock cannot go back from {self._now} to {t_ns} ns")
        self._now = int(t_ns)

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError(f"FakeClock cannot advance by a negative {ns} ns")
        self._now += int(ns)

    def sleep_until(self, t_ns: int) -> None:
        """Returns at once, with "now" moved to the deadline if that is later."""
        self._now = max(self._now, int(t_ns))
