"""Ableton Link (``--clock link``): follow a Link session's tempo, beat phase and start/stop.

``LinkClock`` is a ``BeatTimeline`` like ``MidiClockFollower``: the engine and the live loop
read ``beat_at``/``time_of``/``bpm``/``running`` from it in ``time.perf_counter_ns()``
nanoseconds. Behind it is one Link peer (the ``LinkPython-extern`` binding, which builds
Ableton's own Link library; docs/link.md says why that one and what its licence means).

- The quantum is ``beats_per_bar``: bar lines are where the session's phase is 0, so rtgen's
  bars line up with every peer's (Live's, a phone's).
- ``bpm`` (``--bpm``) is proposed to the session as any peer may: as the tempo of the session
  rtgen starts alone, and once more when the first peer is found (else joining a session would
  drop it). ``propose_tempo`` proposes another later. ``bpm=None``: follow only.
- Start/stop sync is on. Link does not say whether any peer syncs start/stop, so ``running``
  is True until the session's transport first starts or stops after ``start`` (a peer that
  syncs start/stop pressed play or stop), and the transport from then on. In a session whose
  peers do not sync start/stop the beats always run; one that joins a stopped Live plays
  until Live first starts. When the transport starts, a bar line is put on the start (Link's
  own request, quantised to the session's phase): the next bar of rtgen's count, which never
  goes back (the engine's stream and plans only move on).

Clocks: Link's time is its platform clock in microseconds (on Linux CLOCK_MONOTONIC_RAW);
rtgen's is ``perf_counter_ns`` (CLOCK_MONOTONIC there). They differ by an offset and, while
NTP slews, by a rate of up to 500 ppm, so the offset is measured again at each refresh (the
Link read bracketed by two ``perf_counter_ns`` reads; error under 1 µs).

Threads: one refresher thread (``start``) reads the Link session every ``refresh_s`` and
replaces the immutable ``_View`` every reader uses; readers never call into Link. Tempo
changes reach the readers within ``refresh_s`` (5 ms). ``propose_tempo`` may be called from
any thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from rtgen.engine.clock import NS_PER_MINUTE, TempoLine, check_bpm
from rtgen.errors import RtgenError

REFRESH_S = 0.005
INSTALL_HINT = "pip install 'rtgen[link]'"
_US = 1_000
_SLOPE_SPAN_US = 1_000_000  # the line's slope is read over this span of Link time


def load_binding() -> Any:
    """The Link binding's module (``link``, from LinkPython-extern), or a one-line RtgenError."""
    try:
        import link  # LinkPython-extern: Ableton Link built in, GPL (docs/link.md)
    except ImportError:
        raise RtgenError(
            f"--clock link needs the Ableton Link binding, which is not installed: {INSTALL_HINT}"
        ) from None
    if not hasattr(link, "Link") or not hasattr(link.Link, "captureAppSessionState"):
        raise RtgenError(
            f"the 'link' module found is not LinkPython-extern's (no Link.captureAppSessionState):"
            f" {INSTALL_HINT}"
        )
    return link


@dataclass(frozen=True)
class _View:
    """All a reader sees, swapped in one assignment."""

    line: TempoLine  # perf_counter_ns -> beats, from the last refresh
    bpm: float  # the session's tempo as Link states it (for display and the status line)
    playing: bool  # the session transport (start/stop sync)
    stop_sync_seen: bool  # the transport has started or stopped since start()
    peers: int
    offset_ns: int  # Link time (ns) minus perf_counter_ns, as last measured


class LinkClock:
    """Beat time from an Ableton Link session; a ``BeatTimeline``.

    ``start()`` joins (enables Link, starts the refresher), ``stop()`` leaves. Plan only while
    ``running and is_alive(now)``: alive from ``start`` to ``stop``.
    """

    def __init__(
        self,
        beats_per_bar: int = 4,
        bpm: float | None = None,
        fallback_bpm: float = 120.0,
        refresh_s: float = REFRESH_S,
        binding: Any = None,
    ) -> None:
        if not isinstance(beats_per_bar, int) or beats_per_bar < 1:
            raise ValueError(f"beats_per_bar must be a whole number >= 1, not {beats_per_bar!r}")
        if not refresh_s > 0:
            raise ValueError(f"refresh_s must be > 0, not {refresh_s!r}")
        self._beats_per_bar = beats_per_bar
        self._proposed = None if bpm is None else check_bpm(bpm)
        start_bpm = check_bpm(fallback_bpm) if bpm is None else self._proposed
        self._refresh_s = refresh_s
        lib = binding if binding is not None else load_binding()
        self._link = lib.Link(start_bpm)
        self._link_clock = self._link.clock()
        self._lock = threading.Lock()  # one capture-modify-commit at a time
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._alive = False
        self._proposed_on_join = self._proposed is None
        self._was_playing = False
        # the transport's timestamp before any peer: a later one means a start or stop
        self._initial_stop_time = self._link.captureAppSessionState().timeForIsPlaying()
        self.refreshes = 0
        line = TempoLine(time.perf_counter_ns(), 0.0, NS_PER_MINUTE / start_bpm)
        self._view = _View(line, start_bpm, False, False, 0, 0)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Join the Link session (enable Link, start/stop sync on) and start the refresher."""
        if self._thread is not None:
            return
        self._link.startStopSyncEnabled = True
        self._link.enabled = True
        state = self._link.captureAppSessionState()
        self._initial_stop_time = state.timeForIsPlaying()
        self._was_playing = state.isPlaying()
        self.refresh()
        self._alive = True
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._run, name="rtgen-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave the session (Link disabled: no more network traffic) and end the refresher."""
        thread, self._thread = self._thread, None
        self._alive = False
        self._stop_event.set()
        if thread is not None:
            thread.join()
        self._link.enabled = False

    def __enter__(self) -> LinkClock:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        failed = False
        while not self._stop_event.wait(self._refresh_s):
            try:
                self.refresh()
            except Exception as exc:  # the view stays the last good one; say so once
                if not failed:
                    logging.getLogger("rtgen.play").warning("Link: %s: %s", type(exc).__name__, exc)
                failed = True

    # -- readers (BeatTimeline) ---------------------------------------------------------------

    @property
    def beats_per_bar(self) -> int:
        return self._beats_per_bar

    @property
    def quantum(self) -> float:
        return float(self._beats_per_bar)

    @property
    def bpm(self) -> float:
        """The session's tempo, as Link states it."""
        return self._view.bpm

    @property
    def running(self) -> bool:
        """True until the transport first starts or stops after ``start``; then the transport."""
        view = self._view
        return view.playing or not view.stop_sync_seen

    @property
    def playing(self) -> bool:
        """The session's transport state as Link has it (False before any peer starts it)."""
        return self._view.playing

    @property
    def num_peers(self) -> int:
        """Other peers in the session (0: rtgen's session is its own)."""
        return self._view.peers

    @property
    def line(self) -> TempoLine:
        """The current tempo line, in perf_counter_ns."""
        return self._view.line

    def is_alive(self, now_ns: int) -> bool:
        """Between ``start`` and ``stop``: a Link session always has a tempo, even alone."""
        return self._alive

    def beat_at(self, t_ns: int) -> float:
        return self._view.line.beat_at(t_ns)

    def time_of(self, beat: float) -> int:
        return self._view.line.time_of(beat)

    def bar_of(self, beat: float) -> int:
        return math.floor(beat / self._beats_per_bar)

    def next_beat(self, t_ns: int) -> float:
        return self._view.line.first_multiple_at_or_after(t_ns, 1)

    def next_bar(self, t_ns: int) -> float:
        return self._view.line.first_multiple_at_or_after(t_ns, self._beats_per_bar)

    def link_time_ns(self, t_ns: int) -> int:
        """``t_ns`` (perf_counter_ns) on Link's clock, in ns (Link's microseconds * 1000)."""
        return int(t_ns) + self._view.offset_ns

    # -- writers ------------------------------------------------------------------------------

    def propose_tempo(self, bpm: float) -> None:
        """Ask the session for ``bpm`` from now on, as any peer may (peers adopt it)."""
        value = check_bpm(bpm)
        with self._lock:
            state = self._link.captureAppSessionState()
            state.setTempo(value, self._link_clock.micros())
            self._link.commitAppSessionState(state)
        self.refresh()

    def _offset_ns(self) -> int:
        """Link's clock minus perf_counter_ns, from the tightest of three bracketed reads."""
        best = None
        for _ in range(3):
            a = time.perf_counter_ns()
            micros = self._link_clock.micros()
            b = time.perf_counter_ns()
            if best is None or b - a < best[0]:
                # micros() truncates: the true time is on average half a microsecond later
                best = (b - a, micros * _US + _US // 2 - (a + b) // 2)
        return best[1]

    def refresh(self) -> None:
        """Read the session once and publish a new view (the refresher calls this)."""
        link, q = self._link, self.quantum
        with self._lock:
            peers = link.numPeers()
            if not self._proposed_on_join and peers > 0:
                # joining adopts the session's tempo: propose --bpm to it once, as a peer may
                state = link.captureAppSessionState()
                state.setTempo(self._proposed, self._link_clock.micros())
                link.commitAppSessionState(state)
                self._proposed_on_join = True
            state = link.captureAppSessionState()
            playing = state.isPlaying()
            if playing and not self._was_playing:
                # the transport started: a bar line on the start (quantised to the session's
                # phase), the next one on rtgen's count: never beat 0 again, as the engine's
                # stream and plans only ever move on (a count back to 0 left rtgen silent)
                start_us = state.timeForIsPlaying()
                bar = (math.floor(state.beatAtTime(start_us, q) / q) + 1) * q
                state.requestBeatAtStartPlayingTime(float(bar), q)
                link.commitAppSessionState(state)
                state = link.captureAppSessionState()
            self._was_playing = playing
            offset = self._offset_ns()
            now_link_us = self._link_clock.micros()
            beat0 = state.beatAtTime(now_link_us, q)
            beat1 = state.beatAtTime(now_link_us + _SLOPE_SPAN_US, q)
            tempo = state.tempo()
            stop_sync_seen = (
                self._view.stop_sync_seen
                or playing
                or state.timeForIsPlaying() != self._initial_stop_time
            )
        ns_per_beat = _SLOPE_SPAN_US * _US / (beat1 - beat0)
        line = TempoLine(now_link_us * _US - offset, beat0, ns_per_beat)
        self._view = _View(line, tempo, playing, stop_sync_seen, peers, offset)
        self.refreshes += 1
