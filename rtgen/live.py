"""`rtgen play` at run time: ports, clock, engine loop, scheduler thread, clean exits.

Threads: the rtmidi callback only enqueues (msg, t_ns); this loop (the main thread) feeds
the engine and plans each beat; the scheduler thread sends at absolute deadlines. Every
exit path (normal end, SIGINT, SIGTERM, SIGHUP, an exception in any thread) runs the same
shutdown: the panic sequence, a flush, the recording, port close. A signal that comes while
the engine is busy (a slow model step) interrupts it, so the panic never waits for the model.

Exit codes: 0 for a normal end and for SIGINT, SIGTERM and SIGHUP; 1 when an exception in
any thread ended the jam (after the panic). Errors found before the jam starts exit 2.

Whatever comes down the cable is checked first (:func:`rtgen.midi.well_formed`): running
status, stray data bytes, undefined statuses, SysEx and truncated messages are counted and
ignored. A port
that disappears is noticed within ``PORT_CHECK_NS``: held keys of a lost input are released;
for a lost output the notes it was holding are owed and their note-offs (with CC64=0 and
CC123) are the first thing sent when it is back. Beats whose time passed before they could be
planned (a stalled loop, a model slower than a beat) are skipped and counted, never played late.

Every call into the engine goes through :func:`rtgen.replay.apply`; with ``--log`` each is
written down with the clock values it read, so ``rtgen replay`` plays the same notes.

Test hooks (environment, used by tests/reliability): ``RTGEN_TEST_FAULT=planner`` raises a
RuntimeError in the planner after ``RTGEN_TEST_FAULT_AFTER`` plans (default 2),
``RTGEN_TEST_FAULT=scheduler`` raises one on the scheduler thread after that many note-ons;
``RTGEN_TEST_SLOW_STEP_MS=N`` makes every model step N ms slower.
"""

from __future__ import annotations

import collections
import dataclasses
import gc
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rtgen import __version__, midi
from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config, sent_to_notes
from rtgen.engine.clock import BeatClock, MonotonicClock
from rtgen.engine.engine import Engine
from rtgen.engine.ledger import NoteLedger, is_note_off, is_note_on
from rtgen.engine.midiclock import MidiClockFollower
from rtgen.engine.portproto import PortVanishedError
from rtgen.engine.scheduler import Scheduler
from rtgen.events import Role
from rtgen.replay import RecordingClock, SessionLog, apply, bar_aligned, sha256_of

log = logging.getLogger("rtgen.play")
FEEDBACK_WINDOW_NS = 30_000_000  # a message echoed back within 30 ms is our own
METRONOME_CHANNEL, CLICK_ACCENT, CLICK = 9, 76, 77  # GM woodblocks on the drum channel
PORT_CHECK_NS = 200_000_000  # a peer that leaves and returns faster than this goes unnoticed
STATUS_NS = 1_000_000_000
FLOOD_MSGS = 300  # messages in one port check (1,500/s): no hands play that much
NOTE_BUDGET = 12  # note-ons a beat the model hears at most (the grid has 12 steps a beat)
AHEAD_NS = 1_000_000  # "send now" through the scheduler ("now + 1 ns" is past when it lands)
MAX_BATCH = 64  # input messages handled between two looks at the clock (a flood cannot starve)
RT_PRIORITY = 1  # SCHED_FIFO for the send thread: above normal threads, below JACK's (10)
GIL_SWITCH_S = 0.001  # the longest a thread waits for the GIL while another runs Python
_OWED_CCS = (64, 120, 123)


def send_ahead_ns(settings: PlaySettings, out) -> int:  # noqa: ANN001
    """How early to hand messages to the output (see rtgen.io.jackperiod)."""
    if settings.send_ahead_ms >= 0:
        return round(settings.send_ahead_ms * 1e6)
    if getattr(out, "api", None) != "jack":
        return 0  # ALSA, CoreMIDI and WinMM deliver at once: nothing to centre
    from rtgen.io.jackperiod import period_ns

    return (period_ns() or 0) // 2


class StopRequested(BaseException):
    """Raised by the signal handler to interrupt a busy engine call."""


@dataclass
class SentLog:
    """What went out, for --record and for the feedback guard; thread-safe."""

    keep_model: bool = True
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=512))
    model: list = field(default_factory=list)  # (t_ns, msg) note messages (with --record)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, t_ns: int, msg: tuple[int, ...]) -> None:
        with self.lock:
            self.recent.append((t_ns, msg))
            if self.keep_model and len(msg) == 3 and msg[0] & 0xF0 in (0x80, 0x90):
                self.model.append((t_ns, msg))

    def is_echo(self, msg: tuple[int, ...], t_ns: int) -> bool:
        with self.lock:
            for t, m in reversed(self.recent):
                if t_ns - t > FEEDBACK_WINDOW_NS:
                    return False
                if m == msg or (  # a note-off may come back as a note-on with velocity 0
                    is_note_off(m)
                    and is_note_off(msg)
                    and m[0] & 0x0F == msg[0] & 0x0F
                    and m[1] == msg[1]
                ):
                    return True
        return False


def _owable(message: tuple[int, ...]) -> tuple[int, ...] | None:
    """The message a returning synth is owed for ``message`` (a note-off as 0x80, CC64/120/
    123 as they are), or None for one that need not be repeated."""
    if is_note_off(message):
        return (0x80 | message[0] & 0x0F, message[1], 0)
    if len(message) == 3 and message[0] & 0xF0 == 0xB0 and message[1] in _OWED_CCS:
        return tuple(message)
    return None


class GuardedOutput:
    """The output as the scheduler sees it: logs every send and never raises for a port that
    vanished. While the port is away, note-offs and CC64/CC120/CC123 are owed (one of each)
    and :meth:`back` sends them first, so a synth that only lost its cable lets go.

    A peer that goes away is noticed only at the next port check: what was sent in between
    went nowhere, though the send succeeded. :meth:`away` is told when the port was last
    seen, and owes again the note-offs and CCs sent since then (the last send time of each
    is kept: at most 16 x 128 note-offs and a few CCs)."""

    def __init__(self, port, sent: SentLog, clock: MonotonicClock) -> None:  # noqa: ANN001
        self.port, self.sent, self.clock = port, sent, clock
        self.name = getattr(port, "name", "out")
        self.connected = True
        self.lost = 0  # sends that found the port gone
        self.owed: dict[tuple[int, ...], None] = {}
        self._last_sent: dict[tuple[int, ...], int] = {}  # owable message -> last send, ns
        self.lock = threading.Lock()
        self.fault_after: int | None = None  # test hook: note-ons to send before a fault

    def send(self, message: tuple[int, ...]) -> None:
        with self.lock:
            if self.fault_after is not None and is_note_on(message):
                self.fault_after -= 1
                if self.fault_after < 0:
                    self.fault_after = None
                    t = time.perf_counter_ns()
                    raise RuntimeError(f"RTGEN_TEST_FAULT=scheduler at t_ns={t}")
            owable = _owable(message)
            if self.connected:
                try:
                    self.port.send(message)
                except PortVanishedError:
                    self.connected = False
                    self.lost += 1
                else:
                    now = self.clock.now_ns()
                    self.sent.add(now, message)
                    if owable is not None:
                        self._last_sent[owable] = now
                    return
            if owable is not None:
                self.owed[owable] = None

    def away(self, seen_ns: int) -> None:
        """The port is gone; it was last seen present at ``seen_ns``: what was sent since
        may never have arrived, so its note-offs and CCs are owed again."""
        with self.lock:
            self.connected = False
            for message, t in self._last_sent.items():
                if t >= seen_ns:
                    self.owed[message] = None

    def back(self) -> int:
        """The port is open again: send what is owed (note-offs first), then carry on."""
        with self.lock:
            owed = sorted(self.owed)
            for message in owed:
                self.port.send(message)
                self.sent.add(self.clock.now_ns(), message)
            self.owed.clear()
            self.connected = True
        return len(owed)

    def close(self) -> None:
        self.port.close()


class LiveJam:
    def __init__(
        self,
        settings: PlaySettings,
        session,  # noqa: ANN001
        inp,  # noqa: ANN001
        out,  # noqa: ANN001
        seed: int,
        record: Path | None = None,
        status=None,  # noqa: ANN001
        log_path: Path | None = None,
    ) -> None:
        self.s, self.session, self.inp, self.seed = settings, session, inp, seed
        self.record, self.status = record, status
        self.clock = MonotonicClock()  # the loop's own; the engine reads a recording one
        self.eclock = RecordingClock(MonotonicClock())
        self.sent = SentLog(keep_model=record is not None)
        self.out = GuardedOutput(out, self.sent, self.clock)
        if settings.clock == "external":
            self.timeline = MidiClockFollower(settings.beats_per_bar)
            self.origin = self.clock.now_ns()
        else:
            self.origin = self.clock.now_ns() + 50_000_000
            self.timeline = BeatClock(settings.bpm, settings.beats_per_bar, origin_ns=self.origin)
        self.ledger = NoteLedger()
        self.scheduler = Scheduler(
            self.out,
            self.eclock,
            self.ledger,
            on_error=self._on_error,
            send_ahead_ns=send_ahead_ns(settings, out),
            rt_priority=RT_PRIORITY if settings.realtime else None,
        )
        self.cfg = engine_config(settings, seed)
        self.engine = Engine(self.cfg, session, self.timeline, self.eclock, self.scheduler)
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.exit_code = 0
        self.notes_in = self.msgs_in = self.ignored = self.echoes = self.beats_skipped = 0
        self.port_losses = self.reconnects = 0
        self._out_seen_ns = self.clock.now_ns()  # the output's last check found it present
        self.next_click_beat: int | None = None
        self.clock_started = False
        self._busy = self._stopping = self._out_away = self._in_away = False
        self._held: dict[int, int] = {}  # pitch -> channel of keys down, to release them
        self._drops_seen = self._seen = self.floods = 0
        self._flooded = False
        self.gated = 0
        self._gated: set[tuple[int, int]] = set()  # (channel, pitch) of gated notes
        self._budget, self._budget_ns = 2.0 * NOTE_BUDGET, 0
        self.log = SessionLog(log_path, self._header()) if log_path is not None else None
        _install_test_hooks(self)

    def _header(self) -> dict:
        path = Path(getattr(self.session, "path", None) or "")
        return {
            "rtgen": __version__,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": self.seed,
            "settings": dataclasses.asdict(self.s),
            "model": str(path.resolve()),
            "model_sha256": sha256_of(path) if path.is_file() else "",
            "origin_ns": self.origin,
            "clock": self.s.clock,
        }

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
        first = self.stop_reason is None
        self.request_stop(signal.Signals(num).name)
        if first and self._busy and not self._stopping:
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
                self.out.send((0xC0 | self.cfg.out_channel, self.s.program - 1))
            self._loop(seconds)
        except (StopRequested, KeyboardInterrupt):
            pass  # a signal: a clean stop
        except BaseException as exc:  # noqa: BLE001 - every exit path must panic first
            self.error = exc
            self.stop_reason = self.stop_reason or f"error: {type(exc).__name__}: {exc}"
            self.exit_code = 1
            log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
        finally:
            # a status line (called once a second) ends before shutdown prints anything
            getattr(self.status, "end", lambda: None)()
            self.shutdown()
        return self.exit_code

    def _call(self, rec: dict, w: int) -> Any:
        """One call into the engine (through replay.apply), logged with its clock reads."""
        rec["w"] = w - self.origin
        reads: list[int] | None = [] if self.log is not None else None
        self.eclock.reads = reads
        self._busy = True
        try:
            result = apply(self.engine, self.scheduler, rec, self.origin)
        finally:
            self._busy = False
            self.eclock.reads = None
        if self.log is not None and reads is not None:
            rec["r"] = [r - self.origin for r in reads]
            self.log.write(rec)
        return result

    def _clock_ready(self, now: int) -> bool:
        if isinstance(self.timeline, MidiClockFollower):
            return self.timeline.running and self.timeline.is_alive(now)
        return True

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
            ready = self._clock_ready(now)
            if was_ready and not ready:  # the DAW stopped or the clock dropped out
                self._call({"k": "halt"}, now)
            was_ready = ready
            if ready and now >= deadline:
                self._skip_missed_beats(now)
                deadline = self._call({"k": "tick"}, now)
                self._metronome_and_clock(now)
            if now >= next_check:
                self._check_ports(now)
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

    def _skip_missed_beats(self, now: int) -> None:
        """Beats that ended before they were planned are skipped (counted): planned now,
        their notes could only be dropped, and planning them would make the next one late."""
        nb = self.engine.next_beat
        if nb is None:
            return
        current = math.floor(self.timeline.beat_at(now))
        if current > nb:
            self.beats_skipped += current - nb
            self._call({"k": "skip", "beat": current}, now)

    def _handle(self, msg: tuple[int, ...], t_ns: int, synthetic: bool = False) -> None:
        if not synthetic:
            self.msgs_in += 1
        if not midi.well_formed(msg):
            self.ignored += 1
            return self._log_seen(msg, t_ns, "malformed")
        status, kind = msg[0], msg[0] & 0xF0
        if status in midi.CLOCK_STATUSES and isinstance(self.timeline, MidiClockFollower):
            self._call({"k": "clk", "t": t_ns - self.origin, "m": list(msg)}, self.clock.now_ns())
            return None
        if status >= 0xF0:
            return self._log_seen(msg, t_ns, "system")
        if not synthetic and self.sent.is_echo(msg, t_ns):
            self.echoes += 1
            return self._log_seen(msg, t_ns, "echo")  # our own output came back: never answer
        if kind == 0xB0 and self._cc_action(msg[1], msg[2], t_ns):
            return None
        if kind in (0x80, 0x90) and self._gate(msg, t_ns):
            self.gated += 1
            return self._log_seen(msg, t_ns, "gated")
        if kind == 0x90 and msg[2] > 0:
            self.notes_in += 1
            self._held[msg[1]] = status & 0x0F
        elif kind in (0x80, 0x90):
            self._held.pop(msg[1], None)
        beat = round(self.timeline.beat_at(t_ns), 4)
        rec = {"k": "in", "t": t_ns - self.origin, "b": beat, "m": list(msg)}
        self._call(rec, self.clock.now_ns())
        if self.s.thru and kind in (0x80, 0x90, 0xB0, 0xE0):  # through the ledger: panic ends it
            self.scheduler.schedule(self.clock.now_ns() + AHEAD_NS, msg)
        return None

    def _gate(self, msg: tuple[int, ...], t_ns: int) -> bool:
        """True for a note the model must not hear: past a budget of NOTE_BUDGET note-ons a
        beat (bursts up to twice that). The planner already keeps the token stream from
        passing the clock (Planner.commit merges surplus notes); this bounds the model's
        work, as every note costs it two or three steps. The note-off of a gated note is
        gated too."""
        key = (msg[0] & 0x0F, msg[1])
        if msg[0] & 0xF0 == 0x80 or msg[2] == 0:
            if key in self._gated:
                self._gated.discard(key)
                return True
            return False
        per_ns = NOTE_BUDGET * (self.timeline.bpm or self.s.bpm) / 60e9  # wall time: the
        gap = max(0, t_ns - self._budget_ns)  # budget refills while an external clock stops
        self._budget, self._budget_ns = min(2 * NOTE_BUDGET, self._budget + gap * per_ns), t_ns
        if self._budget >= 1:
            self._budget -= 1
            self._gated.discard(key)
            return False
        self._gated.add(key)
        return True

    def _log_seen(self, msg: tuple[int, ...], t_ns: int, why: str) -> None:
        if self.log is not None:
            self.log.write({"k": "x", "t": t_ns - self.origin, "m": list(msg), "why": why})

    def _cc_action(self, number: int, value: int, t_ns: int) -> bool:
        actions = {n: a for a, n in self.s.cc.items()}
        action = actions.get(number)
        if action is None:
            return False
        now = self.clock.now_ns()
        if action == "panic" and value >= 64:
            self._call({"k": "cut", "t": t_ns - self.origin}, now)
            self._call({"k": "panic"}, now)
        elif action == "end_call" and value >= 64:
            self._call({"k": "endcall"}, now)  # the call is over: answer after silence
        elif action == "temperature":
            self._call({"k": "temp", "v": max(0.05, 2.0 * value / 127)}, now)
        elif action == "mode":
            modes = ("call-response", "continue", "duet")
            self._call({"k": "mode", "v": modes[min(2, value * 3 // 128)]}, now)
        return True

    def _metronome_and_clock(self, now: int) -> None:
        """Clicks and outgoing MIDI clock for the coming beat, scheduled ahead."""
        if not (self.s.metronome or self.s.send_clock):
            return
        beat = int(self.timeline.next_beat(now))
        if self.next_click_beat is None or self.next_click_beat < beat:
            self.next_click_beat = beat
        if self.next_click_beat > beat + 1:
            return
        b = self.next_click_beat
        t = self.timeline.time_of(b)
        if self.s.metronome:
            note = CLICK_ACCENT if b % self.s.beats_per_bar == 0 else CLICK
            self.scheduler.schedule_note(t, t + 50_000_000, METRONOME_CHANNEL, note, 90)
        if self.s.send_clock:
            if not self.clock_started:  # as master: Start, then 24 ticks per beat
                self.scheduler.schedule(t - 1, (0xFA,))
                self.clock_started = True
            for tick in range(24):
                self.scheduler.schedule(self.timeline.time_of(b + tick / 24), (0xF8,))
        self.next_click_beat = b + 1

    # --- hot-plug ----------------------------------------------------------------------------
    @staticmethod
    def _present(port) -> bool:  # noqa: ANN001
        return getattr(port, "is_present", lambda: True)()

    def _check_ports(self, now: int) -> None:
        """Five times a second: a port that vanished is reported, released, reopened."""
        out, present = self.out, self._present(self.out.port)
        if not self._out_away and present and out.connected:
            self._out_seen_ns = now
        if not self._out_away and (not present or not out.connected):
            self._out_away = True
            self.port_losses += 1
            out.away(self._out_seen_ns)
            log.warning("output port %s disappeared; will reconnect", out.name)
            self._call({"k": "cut"}, now)  # nothing after now was heard
            self._call({"k": "panic"}, now)  # the held notes become owed note-offs
        elif self._out_away and present:
            try:
                out.port.reconnect()
                owed = out.back()
            except PortVanishedError:
                pass
            else:
                self._out_away = False
                self.reconnects += 1
                log.warning("output port %s is back (%d owed messages sent)", out.name, owed)
        self._watch_flood(now)
        present = self._present(self.inp)
        if not present and not self._in_away:
            self._in_away = True
            self.port_losses += 1
            log.warning("input port disappeared; held keys released, will reconnect")
            self._release_held(now)
        elif present and self._in_away:
            try:
                self.inp.reconnect()
            except PortVanishedError:
                return
            self._in_away = False
            self.reconnects += 1
            log.warning("input port is back")

    def _watch_flood(self, now: int) -> None:
        """More input than hands can play, or any dropped: key-ups may have been lost (the
        queue dropped them, or JACK did while the process lagged). When it is calm again,
        the keys still held are released, so a lost note-off cannot keep rtgen waiting."""
        dropped = getattr(self.inp, "dropped", 0)
        burst = self.msgs_in + dropped - self._seen
        self._seen = self.msgs_in + dropped
        if burst > FLOOD_MSGS or dropped > self._drops_seen:
            self.floods += not self._flooded
            self._flooded, self._drops_seen = True, dropped
        elif self._flooded:
            self._flooded = False
            self._release_held(now)

    def _release_held(self, now: int) -> None:
        """Key-ups for the keys a lost keyboard was holding (and the pedal), as if played."""
        keys, pedal = self.engine.held_keys()
        default = self.s.in_channel - 1 if self.s.in_channel else 0
        for pitch in keys:
            self._handle((0x80 | self._held.get(pitch, default), pitch, 0), now, True)
        if pedal:
            self._handle((0xB0 | default, 64, 0), now, True)
        self._held.clear()

    # --- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Panic (note-offs for every ledger note, CC64=0, CC123), flush, record, close."""
        self._stopping = True
        if self.clock_started:
            self.scheduler.cancel_from(0)
            self.scheduler.schedule(self.clock.now_ns() + AHEAD_NS, (0xFC,))  # Stop
            time.sleep(0.005)
        try:
            self.scheduler.stop(panic=False)
            self._call({"k": "stop"}, self.clock.now_ns())  # the panic, and a flush
        except Exception as exc:  # noqa: BLE001 - a dead port must not stop the rest
            log.warning("panic failed: %s", exc)
        if self.log is not None:
            self.log.close()
        if self.record is not None:
            self._write_record()
        for port in (self.out, self.inp):
            try:
                port.close()
            except Exception:  # noqa: BLE001
                pass

    def summary(self) -> dict[str, Any]:
        """The figures printed on exit: what came in, what went out, what was missed."""
        plan, sched = self.engine.stats(), self.scheduler.stats
        return {
            "in": self.msgs_in,
            "dropped": getattr(self.inp, "dropped", 0),
            "ignored": self.ignored,
            "echoes": self.echoes,
            "notes_in": self.notes_in,
            "model_notes": plan.notes,
            "shifted": plan.shifted,
            "dropped_notes": plan.dropped,
            "merged": plan.merged,
            "stuck_keys": plan.stuck_keys,
            "skipped_beats": self.beats_skipped,
            "sent": sched.sent,
            "late": sched.late,
            "max_late_ms": round(sched.max_late_ns / 1e6, 2),
            # when that send was due, CLOCK_MONOTONIC seconds: to line it up with other logs
            "max_late_at": round(sched.max_late_at_ns / 1e9, 6),
            "gated": self.gated,
            "floods": self.floods,
            "port_losses": self.port_losses,
            "reconnects": self.reconnects,
            "sounding": len(self.ledger),
        }

    def _write_record(self) -> None:
        from rtgen.io.midifile import write_midi

        player = self.engine.player_notes()
        with self.sent.lock:
            sent = list(self.sent.model)
        model = sent_to_notes(sent, self.timeline.beat_at, Role.MODEL, self.cfg.out_channel)
        notes = bar_aligned(player, model, self.s.beats_per_bar)
        write_midi(notes, self.record, bpm=self.timeline.bpm or self.s.bpm)
        print(
            f"rtgen: recorded {len(player)} player and {len(model)} model notes to {self.record}",
            file=sys.stderr,
        )


def _install_test_hooks(jam: LiveJam) -> None:
    """Faults and slowness on demand, for the reliability tests (see the module docstring)."""
    fault = os.environ.get("RTGEN_TEST_FAULT", "")
    after = int(os.environ.get("RTGEN_TEST_FAULT_AFTER", "2"))
    if fault == "scheduler":
        jam.out.fault_after = after
    elif fault == "planner":
        jam.engine = _FaultyEngine(jam.engine, after)
    slow_ms = float(os.environ.get("RTGEN_TEST_SLOW_STEP_MS", "0") or 0)
    if slow_ms > 0:
        step = jam.session.step

        def slow_step(token: int) -> Any:
            time.sleep(slow_ms / 1000)
            return step(token)

        jam.session.step = slow_step


class _FaultyEngine:
    """The engine, but its tick raises once ``after`` beats were planned: a crash inside
    the planner's work, on the loop thread (RTGEN_TEST_FAULT=planner)."""

    def __init__(self, engine: Engine, after: int) -> None:
        self._engine, self._after = engine, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def tick(self, now_ns: int) -> int:
        if self._engine.stats().plans >= self._after:
            raise RuntimeError(f"RTGEN_TEST_FAULT=planner at t_ns={time.perf_counter_ns()}")
        return self._engine.tick(now_ns)
