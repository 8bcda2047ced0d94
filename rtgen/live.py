"""`rtgen play` at run time: the jam loop and its clean exits.

Threads: the port's reader only enqueues (msg, t_ns); this loop (the main thread) feeds the
engine and plans each beat; the scheduler thread sends at absolute deadlines. Every exit
path (normal end, SIGINT, SIGTERM, SIGHUP, an exception in any thread) runs the same
shutdown: the panic sequence, a flush, the recording, port close. A signal that comes while
the engine is busy (a slow model step) interrupts it, so the panic never waits for the model.

Exit codes: 0 for a normal end and for SIGINT, SIGTERM and SIGHUP; 1 when an exception in
any thread ended the jam (after the panic). Errors found before the jam starts exit 2.

:class:`LiveJam` holds the loop and the shutdown; each other job is a module beside it:
what comes in is judged by ``rtgen.inputgate``, what goes out passes ``rtgen.io.guarded``,
clicks and MIDI clock come from ``rtgen.beatsender``, lost ports and floods are watched by
``rtgen.hotplug``, the counters are ``rtgen.jamstats``, the log header and ``--record`` file
``rtgen.jamrecord``, and the reliability tests' faults ``rtgen.testfaults``. Beats whose
time passed before they could be planned (a stalled loop, a model slower than a beat) are
skipped and counted, never played late.

Every call into the engine goes through :func:`rtgen.replay.apply`; with ``--log`` each is
written down with the clock values it read, so ``rtgen replay`` plays the same notes.
"""

from __future__ import annotations

import gc
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Any, Protocol

from rtgen import testfaults
from rtgen.beatsender import AHEAD_NS, BeatSender
from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config
from rtgen.engine.clock import BeatClock, BeatTimeline, MonotonicClock
from rtgen.engine.engine import Engine
from rtgen.engine.ledger import NoteLedger
from rtgen.engine.memory import Memory
from rtgen.engine.midiclock import MidiClockFollower
from rtgen.engine.portproto import InputPort, LiveOutputPort
from rtgen.engine.scheduler import Scheduler
from rtgen.hotplug import PORT_CHECK_NS, PortWatch
from rtgen.inputgate import ACTION, CLOCK, PLAY, InputGate, action_calls
from rtgen.io.guarded import GuardedOutput, SentLog
from rtgen.io.jackrestart import restarts
from rtgen.io.jackwatch import EXIT_SERVER_LOST, JackWatch
from rtgen.io.jackwiring import Wiring
from rtgen.jamrecord import log_header, write_record
from rtgen.jamstats import JamStats, summary
from rtgen.memoryfile import save_memory
from rtgen.midi import (
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PITCH_BEND,
    PROGRAM_CHANGE,
    channel_of,
    kind_of,
)
from rtgen.replay import LoggedCalls, RecordingClock, SessionLog
from rtgen.tokens import GRID_STEPS_PER_BEAT

log = logging.getLogger("rtgen.play")
STATUS_NS = 1_000_000_000
MAX_BATCH = 64  # input messages handled between two looks at the clock (a flood cannot starve)
RT_PRIORITY = 1  # SCHED_FIFO for the send thread: above normal threads, below JACK's (10)
GIL_SWITCH_S = 0.001  # the longest a thread waits for the GIL while another runs Python
THRU_KINDS = (NOTE_OFF, NOTE_ON, CONTROL_CHANGE, PITCH_BEND)  # what --thru echoes


def send_ahead_ns(settings: PlaySettings, out: LiveOutputPort) -> int:
    """How early to hand messages to the output: the port's own (see rtgen.io.jackperiod)
    and ``--latency-ms``, the synth's (it sounds that late, so everything goes that early)."""
    return _port_ahead_ns(settings, out) + round(settings.latency_ms * 1e6)


def _port_ahead_ns(settings: PlaySettings, out: LiveOutputPort) -> int:
    if settings.send_ahead_ms >= 0:
        return round(settings.send_ahead_ms * 1e6)
    if out.api != "jack":
        return 0  # ALSA, CoreMIDI and WinMM deliver at once: nothing to centre
    from rtgen.io.jackperiod import period_ns

    return (period_ns() or 0) // 2


def link_clock(settings: PlaySettings, propose_bpm: float | None) -> BeatTimeline:
    """``--clock link``'s clock, not yet joined: made before any port opens, so a missing
    binding is one line (``pip install 'rtgen[link]'``). ``propose_bpm``: the tempo the user
    gave (--bpm or a preset's bpm), proposed to the session; None: follow only."""
    from rtgen.engine.linkclock import LinkClock

    return LinkClock(settings.beats_per_bar, bpm=propose_bpm, fallback_bpm=settings.bpm)


def _timeline(
    settings: PlaySettings, now_ns: int, link: BeatTimeline | None = None
) -> tuple[BeatTimeline, int]:
    """The jam's beats, and its origin (beat 0 of rtgen's own clock: 50 ms from now).
    ``--clock link`` joins the session now (``link``: the clock :func:`link_clock` made)."""
    if settings.clock == "external":
        return MidiClockFollower(settings.beats_per_bar), now_ns
    if settings.clock == "link":
        timeline = link if link is not None else link_clock(settings, None)
        timeline.start()  # type: ignore[attr-defined]
        return timeline, now_ns
    origin = now_ns + 50_000_000
    return BeatClock(settings.bpm, settings.beats_per_bar, origin_ns=origin), origin


class StopRequested(BaseException):
    """Raised by the signal handler to interrupt a busy engine call."""


class Status(Protocol):
    """A live status display (rtgen.commands.play_cmd's): shown once a second, ended once
    when the jam stops, before anything else is printed."""

    def __call__(self, jam: LiveJam) -> None: ...

    def end(self) -> None: ...


class LiveJam:
    """One jam: ports, clock, engine, scheduler; :meth:`run` until a stop, then shutdown."""

    def __init__(
        self,
        settings: PlaySettings,
        session: Any,  # a model session (rtgen.sessions.open_session)
        inp: InputPort,
        out: LiveOutputPort,
        seed: int,
        record: Path | None = None,
        status: Status | None = None,
        log_path: Path | None = None,
        memory: Memory | None = None,  # the session memory to start from (--memory FILE)
        chords_in: InputPort | None = None,  # --chords PORT: a second input, the harmony
        link: BeatTimeline | None = None,  # --clock link: live.link_clock's, joined here
    ) -> None:
        self.s, self.session, self.inp, self.seed = settings, session, inp, seed
        self.chords_in = chords_in
        self.record, self.status = record, status
        self.clock = MonotonicClock()  # the loop's own; the engine reads a recording one
        self.eclock = RecordingClock(MonotonicClock())
        self.sent = SentLog(keep_model=record is not None)
        self.out = GuardedOutput(out, self.sent, self.clock)
        self.timeline, self.origin = _timeline(settings, self.clock.now_ns(), link)
        self.ledger = NoteLedger()
        self.scheduler = Scheduler(
            self.out,
            self.eclock,
            self.ledger,
            on_error=self._on_error,
            send_ahead_ns=send_ahead_ns(settings, out),
            rt_priority=RT_PRIORITY if settings.realtime else None,
            # a note whose time passed a grid step ago is not played (a frozen process)
            max_late_ns=int(60e9 / settings.bpm / GRID_STEPS_PER_BEAT),
        )
        self.cfg = engine_config(settings, seed)
        self.engine = Engine(
            self.cfg, session, self.timeline, self.eclock, self.scheduler, memory=memory
        )
        testfaults.install(self)  # only where a reliability test asks for a fault
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.exit_code = 0
        self.port_claim = None  # rtgen.io.portclaim: held while this jam plays to its port
        on_jack = "jack" in (getattr(out, "api", None), getattr(inp, "api", None))
        self.jack_watch = JackWatch.open() if on_jack else None  # the server's end, seen
        self.wiring = Wiring(self.jack_watch, [out, inp, chords_in])  # cables made sure of
        self.stats = JamStats()
        self.gate = InputGate(self.sent, self.stats, settings, lambda: self.timeline.bpm)
        self.beats = BeatSender(self.timeline, self.scheduler, self.clock.now_ns, settings)
        self.ports = PortWatch(
            self.out,
            inp,
            self.stats,
            self._output_lost,
            self._input_lost,
            self._release_held,
            self.clock.now_ns(),
            chords=chords_in,
            release_chord_keys=self._release_chord_keys,
        )
        self._stopping = False
        self.restart = False  # the server went away: start again once it is back
        self._realigns = 0  # the engine's realigns the clicks and sent clock follow
        header = log_header(settings, seed, session.path, self.origin)
        header["memory"] = self.engine.memory_doc()  # replay starts from the same memory
        self.log = SessionLog(log_path, header) if log_path is not None else None
        self._call = LoggedCalls(self.engine, self.scheduler, self.eclock, self.origin, self.log)

    # --- exits ----------------------------------------------------------------------------
    def _on_error(self, exc: BaseException) -> None:
        self.error = exc
        self.exit_code = 1
        self.stop_reason = self.stop_reason or f"scheduler: {type(exc).__name__}: {exc}"

    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    def install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, num: int, _frame: object) -> None:
        self.restart = False  # a signal means stop, even while the server is away
        first = self.stop_reason is None
        self.request_stop(signal.Signals(num).name)
        if first and self._call.busy and not self._stopping:
            raise StopRequested(self.stop_reason)  # out of a long model step, to the panic

    # --- the loop ----------------------------------------------------------------------------
    def run(self, seconds: float | None = None) -> int:
        # A thread that wants the GIL waits up to the switch interval (5 ms by default)
        # while the planner runs Python: the send thread and JACK's input callback must not.
        sys.setswitchinterval(GIL_SWITCH_S)
        # A full garbage collection holds the GIL while it walks every object (tens of
        # thousands once ONNX Runtime, numpy and mido are loaded): ~10 ms in which the send
        # thread cannot run. Everything alive now lives as long as the jam, so it is frozen
        # out of the collector's walks; later collections see only what the jam allocates.
        gc.collect()
        gc.freeze()
        self.scheduler.start()
        try:
            if self.s.program > 0:
                self.out.send((PROGRAM_CHANGE | self.cfg.out_channel, self.s.program - 1))
            self._loop(seconds)
        except (StopRequested, KeyboardInterrupt):
            pass  # a signal: a clean stop
        except BaseException as exc:
            self.error = exc
            self.stop_reason = self.stop_reason or f"error: {type(exc).__name__}: {exc}"
            self.exit_code = 1
            log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
        finally:
            if self.status is not None:  # a status line ends before shutdown prints anything
                self.status.end()
            self.shutdown()
        return self.exit_code

    def _loop(self, seconds: float | None) -> None:
        t_end = None if seconds is None else self.clock.now_ns() + int(seconds * 1e9)
        deadline = self.clock.now_ns()
        was_ready = True
        next_check = next_status = 0
        while self.stop_reason is None:
            now = self.clock.now_ns()
            if t_end is not None and now >= t_end:
                self.request_stop("time limit")
                break
            ready = self.timeline.running and self.timeline.is_alive(now)
            if was_ready and not ready:  # the DAW stopped or the clock dropped out
                self._call({"k": "halt"}, now)
            was_ready = ready
            if ready and now >= deadline:
                self._skip_missed_beats(now)
                deadline = self._call({"k": "tick"}, now)
                self.beats.ahead(now)
            if now >= next_check:
                if self.jack_watch is not None and self.jack_watch.lost:
                    self._server_lost()
                    break
                self.ports.check(now)
                self.wiring.check(self.stats.reconnects)
                next_check = now + PORT_CHECK_NS
            if now >= next_status:
                next_status = now + STATUS_NS
                if self.log is not None:
                    self.log.flush()
                if self.status:
                    self.status(self)
            wait_ns = min(deadline - self.clock.now_ns(), 20_000_000) if ready else 20_000_000
            item = self.inp.get(timeout=max(0, wait_ns) / 1e9)
            for _ in range(MAX_BATCH):
                if item is None or self.stop_reason is not None:
                    break
                self._handle(*item)
                item = self.inp.get(timeout=0)
            if item is not None:
                self._handle(*item)
            self._handle_chords()
            deadline = self.engine.sooner(deadline)  # a chord changed: a replan is due
            if self.engine.realigns != self._realigns:  # the player set the tempo
                self._realigns = self.engine.realigns
                self.beats.retime(self.clock.now_ns())

    def _server_lost(self) -> None:
        """The JACK server went away: stop, then (play_cmd) start again in a fresh process
        that waits for it (rtgen/io/jackrestart.py), or exit for a supervisor."""
        if self.s.exit_on_server_loss:
            log.warning(
                "the JACK server went away: rtgen stops (exit %d), start it again "
                "once JACK is back",
                EXIT_SERVER_LOST,
            )
            self.exit_code = EXIT_SERVER_LOST
        else:
            log.warning(
                "the JACK server went away: rtgen waits for it and plays on when it is back "
                "(--exit-on-server-loss: exit instead)"
            )
            self.restart = True
        self.request_stop("JACK server lost")

    def _skip_missed_beats(self, now: int) -> None:
        """Beats that ended before they were planned are skipped (counted): planned now,
        their notes could only be dropped, and planning them would make the next one late."""
        nb = self.engine.next_beat
        if nb is None:
            return
        current = math.floor(self.timeline.beat_at(now))
        if current > nb:
            self.stats.beats_skipped += current - nb
            self._call({"k": "skip", "beat": current}, now)

    def _handle_chords(self) -> None:
        """What the chord port (--chords PORT) sent: harmony, judged as any input is."""
        if self.chords_in is None:
            return
        for _ in range(MAX_BATCH):
            item = self.chords_in.get(timeout=0)
            if item is None or self.stop_reason is not None:
                return
            if channel_of(item[0]) is not None:  # its clock is not the jam's: notes, CCs
                self._handle(*item, chords=True)

    def _handle(
        self, msg: tuple[int, ...], t_ns: int, synthetic: bool = False, chords: bool = False
    ) -> None:
        verdict = self.gate.judge(msg, t_ns, synthetic)
        now = self.clock.now_ns()
        if verdict == CLOCK:
            self._call({"k": "clk", "t": t_ns - self.origin, "m": list(msg)}, now)
        elif verdict == ACTION:
            for rec in action_calls(self.gate.actions[msg[1]], msg[2], t_ns - self.origin):
                self._call(rec, now)
        elif verdict != PLAY:
            if self.log is not None:  # seen, never given to the engine
                self.log.write({"k": "x", "t": t_ns - self.origin, "m": list(msg), "why": verdict})
        else:
            beat = round(self.timeline.beat_at(t_ns), 4)
            rec = {"k": "in", "t": t_ns - self.origin, "b": beat, "m": list(msg)}
            if chords:
                rec["h"] = True  # from the chord port: harmony whatever its pitch
            self._call(rec, now)
            if self.s.thru and kind_of(msg[0]) in THRU_KINDS:  # the ledger ends it on a panic
                # due as soon as it can be sent (the send thread sends send-ahead early)
                due = self.clock.now_ns() + self.scheduler.send_ahead_ns + AHEAD_NS
                self.scheduler.schedule(due, msg)

    def _output_lost(self, now: int) -> None:
        self._call({"k": "cut"}, now)  # nothing after now was heard
        self._call({"k": "panic"}, now)  # the held notes become owed note-offs

    def _release_held(self, now: int) -> None:
        """Key-ups for the keys a lost keyboard was holding (and the pedal), as if played."""
        for msg in self.gate.key_ups(*self.engine.held_keys()):
            self._handle(msg, now, True)

    def _input_lost(self, now: int) -> None:
        """The keyboard went away: its keys up, as if played; and when it also carries the
        harmony (--split, a chord channel), its held chord keys let go, as a lost chord
        port's are (the chord stays; the keys cannot join the next one)."""
        self._release_held(now)
        route = self.engine.cfg.harmony_route
        if route is not None and route.on_main_input:
            self._release_chord_keys(now)

    def _release_chord_keys(self, now: int) -> None:
        """The keys a lost chord port was holding are let go (the chord they spelled is
        kept: a released chord is); logged, so replay agrees."""
        self._call({"k": "chordsgone"}, now)

    # --- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Panic (note-offs for every ledger note, CC64=0, CC123), flush, record, close."""
        self._stopping = True
        self.beats.stop()  # MIDI clock's Stop, if rtgen sent clock
        try:
            self.scheduler.stop(panic=False)
            stop: dict[str, Any] = {"k": "stop"}  # the panic, and a flush
            if self.scheduler.sent_through_ns is not None:  # what the send thread had sent
                stop["s"] = self.scheduler.sent_through_ns - self.origin
            self._call(stop, self.clock.now_ns())
        except Exception as exc:
            log.warning("panic failed: %s", exc)
        self.leave_link()
        if self.log is not None:
            self.log.close()
        if self.jack_watch is not None:
            self.jack_watch.close()
        if self.s.memory_file:
            save_memory(self.engine.memory_doc(), self.s.memory_file)
        if self.record is not None:
            notes, sent = self.engine.player_notes(), self.sent.model_notes()
            write_record(self.record, notes, sent, self.timeline, self.cfg.out_channel, self.s)
        for port in (self.out, self.inp, self.chords_in):
            if port is None:
                continue
            try:
                port.close()
            except Exception:
                pass

    def leave_link(self) -> None:
        """--clock link: leave the Link session (no more network traffic); else nothing."""
        if self.s.clock == "link":
            try:
                self.timeline.stop()  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning("leaving the Link session failed: %s", exc)

    def summary(self) -> dict[str, Any]:
        """The figures printed on exit: what came in, what went out, what was missed."""
        engine, sched = self.engine.stats(), self.scheduler.stats
        out = summary(self.stats, engine, sched, self.inp.dropped, len(self.ledger))
        out["server_restarts"] = restarts()  # times this jam came back after JACK did
        out["cables_made"] = self.wiring.made  # JACK cables rtmidi left unmade (jackwiring.py)
        return out
