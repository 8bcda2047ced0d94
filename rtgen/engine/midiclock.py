"""MIDI clock (24 ticks per beat): follow a DAW's, or send our own.

``MidiClockFollower`` turns stamped System Real-Time messages into a ``BeatTimeline``. The
tempo is a least-squares line of tick time against tick count over the last ``window_ticks``
ticks (48 = two beats): jitter averages out, and a tempo change is fully followed once the
window holds only new ticks, i.e. within two beats. The beat phase comes from the tick count
(the first tick after Start is beat 0; after Song Position Pointer and Continue it is the
pointer's beat) read through the fitted line, so ``beat_at`` interpolates between ticks and
extrapolates past the last one.

``ClockSender`` is the other direction (``--send-clock``): Start, then 24 ticks per beat at
``clock.time_of(beat)``, absolute times from a beat timeline. It owns no thread and sends
nothing late by itself: ``rtgen play``'s loop (``rtgen.beatsender``) takes each beat's ticks
with their times (:meth:`ClockSender.due_until`) a beat ahead and queues them in the
scheduler, whose send thread puts them out on time.

Threads: ``feed`` runs on one thread (the live loop's), the readers anywhere. Everything a
reader uses is one immutable ``_View`` that ``feed`` replaces whole.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rtgen.engine.clock import NS_PER_MINUTE, BeatTimeline, TempoLine, check_bpm
from rtgen.midi import CLOCK, CONTINUE, SONG_POSITION, START, STOP

TICKS_PER_BEAT = 24
TICKS_PER_SIXTEENTH = 6  # a Song Position Pointer counts "MIDI beats": sixteenth notes
MIN_DROPOUT_NS = 250_000_000
DROPOUT_PERIODS = 3
MIN_FIT_TICKS = 6  # the smallest window; a few jittered ticks say little about the tempo


@dataclass(frozen=True)
class _View:
    """All the follower's readers see, swapped in one assignment."""

    running: bool
    held_beat: float  # the beat the next running tick will mark (the song position)
    line: TempoLine
    last_tick_ns: int | None
    awaiting_tick: bool  # running, but no tick since Start/Continue yet


class MidiClockFollower:
    """Beat time from an external MIDI clock, as a DAW sends it.

    Plan only while ``running and is_alive(now)``: before that the tempo is
    ``fallback_bpm``, and while stopped ``beat_at`` holds the song position.
    """

    def __init__(
        self, beats_per_bar: int = 4, window_ticks: int = 48, fallback_bpm: float = 120.0
    ) -> None:
        if window_ticks < MIN_FIT_TICKS:
            raise ValueError(f"window_ticks must be >= {MIN_FIT_TICKS}, not {window_ticks}")
        if beats_per_bar < 1:
            raise ValueError(f"beats_per_bar must be >= 1, not {beats_per_bar}")
        self._beats_per_bar = beats_per_bar
        self._ticks: deque[tuple[int, int]] = deque(maxlen=window_ticks)  # (count, t_ns)
        self._count = 0  # every tick, running or not: the x axis of the fit
        self._pos_ticks = 0  # song position in ticks: what the next running tick marks
        self._running = False
        self._awaiting = False
        self._measured: float | None = None  # ns per beat, from the last fit of >= 2 ticks
        self._prior: float | None = None  # ns per beat kept over a cleared window
        self.ignored = 0  # malformed or unexpected messages, for the status line
        line = TempoLine(0, 0.0, NS_PER_MINUTE / check_bpm(fallback_bpm))
        self._view = _View(False, 0.0, line, None, False)

    # -- readers ------------------------------------------------------------------------------

    @property
    def beats_per_bar(self) -> int:
        return self._beats_per_bar

    @property
    def running(self) -> bool:
        return self._view.running

    @property
    def bpm(self) -> float | None:
        """The measured tempo, or None before two ticks have been seen."""
        measured = self._measured
        return None if measured is None else NS_PER_MINUTE / measured

    @property
    def fit_ticks(self) -> int:
        """How many ticks the tempo fit holds now (the window refills after a dropout)."""
        return len(self._ticks)

    def dropout_ns(self) -> int:
        """How long without a tick counts as a dropout: 3 tick periods, at least 250 ms."""
        period = self._view.line.ns_per_beat / TICKS_PER_BEAT
        return max(MIN_DROPOUT_NS, round(DROPOUT_PERIODS * period))

    def is_alive(self, now_ns: int) -> bool:
        """True while ticks arrive (running or not); false after a dropout."""
        last = self._view.last_tick_ns
        return last is not None and now_ns - last <= self.dropout_ns()

    def beat_at(self, t_ns: int) -> float:
        """On the fitted line while running (between ticks it interpolates, after the last it
        extrapolates); the song position while stopped. Each tick refits the line, so two
        reads of one time may differ by a few microseconds across a tick."""
        view = self._view
        if not view.running or (view.awaiting_tick and not self.is_alive(t_ns)):
            return view.held_beat  # stopped, or started with no clock to predict from
        return view.line.beat_at(t_ns)

    def time_of(self, beat: float) -> int:
        """When ``beat`` falls on the fitted line (the last fit, or the fallback tempo)."""
        return self._view.line.time_of(beat)

    def bar_of(self, beat: float) -> int:
        return int(beat // self._beats_per_bar)

    def next_beat(self, t_ns: int) -> float:
        return self._view.line.first_multiple_at_or_after(t_ns, 1)

    def next_bar(self, t_ns: int) -> float:
        return self._view.line.first_multiple_at_or_after(t_ns, self._beats_per_bar)

    # -- the writer ---------------------------------------------------------------------------

    def feed(self, status: int, t_ns: int, data: tuple = ()) -> None:
        """One System Real-Time or Song Position message, stamped on arrival.

        ``status`` is the message's first byte; ``data`` the Song Position's (lsb, msb).
        Anything else is counted in ``ignored``, never raised: it comes from a cable.
        """
        if status == CLOCK:
            self._tick(int(t_ns))
        elif status == START:
            self._pos_ticks, self._running, self._awaiting = 0, True, True
        elif status == CONTINUE:
            self._running, self._awaiting = True, True
        elif status == STOP:
            self._running, self._awaiting = False, False
        elif status == SONG_POSITION:
            if self._running or len(data) != 2 or not all(0 <= b <= 127 for b in data):
                self.ignored += 1  # the spec allows SPP only while stopped
                return
            lsb, msb = data
            self._pos_ticks = TICKS_PER_SIXTEENTH * (lsb | msb << 7)
        else:
            self.ignored += 1
            return
        self._publish()

    def _tick(self, t_ns: int) -> None:
        view = self._view
        if view.last_tick_ns is not None:
            t_ns = max(t_ns, view.last_tick_ns)  # stamps from one thread never go back
            gap = t_ns - view.last_tick_ns
            if gap > self.dropout_ns():
                self._after_dropout(gap, view.line.ns_per_beat / TICKS_PER_BEAT)
            elif self._awaiting and self._off_grid(t_ns):
                self._clear()  # the DAW restarted its clock phase at Start/Continue
        if self._running:
            self._pos_ticks += 1
        self._awaiting = False
        self._count += 1
        self._ticks.append((self._count, t_ns))
        self._publish(t_ns)

    def _clear(self) -> None:
        """Forget the window; its tempo stays as the prior until half the window has refilled."""
        self._ticks.clear()
        self._prior = self._measured

    def _after_dropout(self, gap: int, period: float) -> None:
        """A gap in the clock: refit from scratch, and count the ticks the cable lost."""
        self._clear()
        if self._running and not self._awaiting:
            # The DAW kept playing: estimate the missed ticks so the phase stays right.
            self._pos_ticks += max(0, round(gap / period) - 1)

    def _off_grid(self, t_ns: int) -> bool:
        """Whether a tick lands far (a quarter period, at least 5 ms) from where the fit
        expects the next one: the sign of a clock restarted with a new phase."""
        if self._prior is not None or len(self._ticks) < MIN_FIT_TICKS:
            return False  # no fit worth trusting yet
        line = self._view.line
        expected = line.time_of(self._pos_ticks / TICKS_PER_BEAT)  # where the next tick lands
        return abs(t_ns - expected) > max(line.ns_per_beat / TICKS_PER_BEAT / 4, 5_000_000)

    def _publish(self, last_tick_ns: int | None = None) -> None:
        view = self._view
        line = self._fit() if self._ticks else view.line
        last = view.last_tick_ns if last_tick_ns is None else last_tick_ns
        held = self._pos_ticks / TICKS_PER_BEAT
        self._view = _View(self._running, held, line, last, self._awaiting)

    def _fit(self) -> TempoLine:
        """Least squares of tick time on tick count; anchored at the newest tick.

        x and y are taken relative to the newest tick, so the sums stay small and exact
        enough in float64 even with perf_counter_ns values near 1e15.
        """
        k_last, t_last = self._ticks[-1]
        n = len(self._ticks)
        xs = [k - k_last for k, _ in self._ticks]
        ys = [t - t_last for _, t in self._ticks]
        mx, my = sum(xs) / n, sum(ys) / n
        ns_per_tick = None
        if n >= max(MIN_FIT_TICKS, self._ticks.maxlen // 2):
            self._prior = None  # half a window (a beat) of new ticks outweighs the old tempo
        if n >= 2 and self._prior is None:
            sxx = sum((x - mx) ** 2 for x in xs)
            sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            if sxy > 0:
                ns_per_tick = sxy / sxx
                self._measured = ns_per_tick * TICKS_PER_BEAT
        if ns_per_tick is None:  # too few ticks: the tempo before the gap, else the fallback
            ns_per_beat = self._prior or self._view.line.ns_per_beat
            ns_per_tick = ns_per_beat / TICKS_PER_BEAT
        ns_per_beat = ns_per_tick * TICKS_PER_BEAT
        offset = my - ns_per_tick * mx  # fitted time of the newest tick, minus its stamp
        newest_beat = (self._pos_ticks - 1) / TICKS_PER_BEAT  # also while stopped: then the
        # line says where the next tick would land if the DAW continued
        return TempoLine(t_last, newest_beat - offset / ns_per_beat, ns_per_beat)


class ClockSender:
    """rtgen as clock master: Start, then 24 ticks per beat of a beat timeline.

    Tick ``n`` is due at ``clock.time_of(first_beat + n / 24)``: absolute times from the
    clock's origin, so a ``set_tempo`` takes effect from the next tick and nothing drifts.
    ``start`` and ``stop`` call ``send`` at once; ticks are handed out by ``due_until`` (with
    their times, to queue ahead) or ``due_messages`` (or sent by ``pump``) exactly once
    each. Call it from one thread only.
    """

    def __init__(self, clock: BeatTimeline, send: Callable[[tuple[int, ...]], None]) -> None:
        self.clock = clock
        self._send = send
        self._running = False
        self._first_beat = 0.0
        self._next_tick = 0  # index of the next tick to hand out

    @property
    def running(self) -> bool:
        return self._running

    def start(self, now_ns: int, at_beat: float | None = None) -> None:
        """Send Start now; the first tick (song position 0 for the receiver) falls on
        ``at_beat``, by default the next bar line at or after ``now_ns``."""
        first = self.clock.next_bar(now_ns) if at_beat is None else float(at_beat)
        if self.clock.time_of(first) < now_ns:
            raise ValueError(f"cannot start the clock on beat {first}: it is already past")
        self._first_beat, self._next_tick, self._running = first, 0, True
        self._send((START,))

    def stop(self) -> None:
        """Send Stop now; no tick follows until the next ``start``."""
        self._running = False
        self._send((STOP,))

    def rebase(self, now_ns: int) -> None:
        """The timeline's grid moved (the player set the tempo): the next tick falls on the
        next 24th of a beat of the new grid, the tick count going on (no new Start)."""
        if not self._running:
            return
        beat = math.ceil(self.clock.beat_at(now_ns) * TICKS_PER_BEAT) / TICKS_PER_BEAT
        self._first_beat = beat - self._next_tick / TICKS_PER_BEAT

    def next_due_ns(self) -> int | None:
        """When the next tick is due (for the scheduler's sleep), or None when stopped."""
        if not self._running:
            return None
        return self.clock.time_of(self._first_beat + self._next_tick / TICKS_PER_BEAT)

    def due_until(self, until_ns: int) -> list[tuple[int, tuple[int, ...]]]:
        """``(t_ns, tick)`` for each tick due at or before ``until_ns`` not handed out yet
        (late ones included), oldest first: to queue ahead at their own times."""
        out: list[tuple[int, tuple[int, ...]]] = []
        due = self.next_due_ns()
        while due is not None and due <= until_ns:
            out.append((due, (CLOCK,)))
            self._next_tick += 1
            due = self.next_due_ns()
        return out

    def due_messages(self, now_ns: int) -> list[tuple[int, ...]]:
        """The ticks due at or before ``now_ns`` not handed out yet (late ones included)."""
        return [message for _, message in self.due_until(now_ns)]

    def pump(self, now_ns: int) -> int:
        """Send the due ticks; returns how many."""
        messages = self.due_messages(now_ns)
        for message in messages:
            self._send(message)
        return len(messages)
