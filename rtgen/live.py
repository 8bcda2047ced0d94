"""`rtgen play` at run time: ports, clock, engine loop, scheduler thread, clean exits.

Threads: the rtmidi callback only enqueues (msg, t_ns); this loop (the main thread) feeds
the engine and plans each beat; the scheduler thread sends at absolute deadlines. Every
exit path (normal end, SIGINT, SIGTERM, SIGHUP, an exception in any thread, a vanished
port) runs the same shutdown: the panic sequence, a flush, the recording, port close.
"""

from __future__ import annotations

import collections
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config, sent_to_notes
from rtgen.engine.clock import BeatClock, MonotonicClock
from rtgen.engine.engine import Engine
from rtgen.engine.ledger import NoteLedger
from rtgen.engine.midiclock import MidiClockFollower
from rtgen.engine.portproto import PortVanishedError
from rtgen.engine.scheduler import Scheduler
from rtgen.events import Role

log = logging.getLogger("rtgen.play")
CLOCK_STATUSES = (0xF8, 0xFA, 0xFB, 0xFC, 0xF2)
FEEDBACK_WINDOW_NS = 30_000_000  # a message echoed back within 30 ms is our own
METRONOME_CHANNEL, CLICK_ACCENT, CLICK = 9, 76, 77  # GM woodblocks on the drum channel


@dataclass
class SentLog:
    """What went out, for --record and for the feedback guard; thread-safe."""

    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=512))
    model: list = field(default_factory=list)  # (t_ns, msg) note messages on model channels
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, t_ns: int, msg: tuple[int, ...]) -> None:
        with self.lock:
            self.recent.append((t_ns, msg))
            if msg and msg[0] & 0xF0 in (0x80, 0x90):
                self.model.append((t_ns, msg))

    def is_echo(self, msg: tuple[int, ...], t_ns: int) -> bool:
        with self.lock:
            for t, m in reversed(self.recent):
                if t_ns - t > FEEDBACK_WINDOW_NS:
                    return False
                if m == msg or (
                    m[0] & 0xF0 == 0x80
                    and msg[0] & 0xF0 == 0x90
                    and msg[2] == 0
                    and m[1] == msg[1]
                    and m[0] & 0x0F == msg[0] & 0x0F
                ):
                    return True
        return False


class GuardedOutput:
    """The output as the scheduler sees it: logs every send; a vanished port raises."""

    def __init__(self, port, sent: SentLog, clock: MonotonicClock) -> None:  # noqa: ANN001
        self.port, self.sent, self.clock = port, sent, clock
        self.name = getattr(port, "name", "out")
        self.connected = True

    def send(self, message: tuple[int, ...]) -> None:
        if not self.connected:
            return  # while the port is away, notes go nowhere (the ledger is cleared)
        self.port.send(message)
        self.sent.add(self.clock.now_ns(), message)

    def close(self) -> None:
        self.port.close()


class LiveJam:
    def __init__(
        self,
        settings: PlaySettings,
        session,
        inp,
        out,
        seed: int,  # noqa: ANN001
        record: Path | None = None,
        status=None,
    ) -> None:  # noqa: ANN001
        self.s, self.session, self.inp, self.seed = settings, session, inp, seed
        self.record, self.status = record, status
        self.clock = MonotonicClock()
        self.sent = SentLog()
        self.out = GuardedOutput(out, self.sent, self.clock)
        if settings.clock == "external":
            self.timeline = MidiClockFollower(settings.beats_per_bar)
        else:
            start = self.clock.now_ns() + 50_000_000
            self.timeline = BeatClock(settings.bpm, settings.beats_per_bar, origin_ns=start)
        self.ledger = NoteLedger()
        self.scheduler = Scheduler(self.out, self.clock, self.ledger, on_error=self._on_error)
        self.cfg = engine_config(settings, seed)
        self.engine = Engine(self.cfg, session, self.timeline, self.clock, self.scheduler)
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.notes_in = 0
        self.next_click_beat: int | None = None
        self.exit_code = 0
        self.clock_started = False

    # --- exits ----------------------------------------------------------------------------
    def _on_error(self, exc: BaseException) -> None:
        self.error = exc
        self.stop_reason = self.stop_reason or f"scheduler: {type(exc).__name__}"

    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    def install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, lambda num, _f: self.request_stop(signal.Signals(num).name))

    # --- the loop ----------------------------------------------------------------------------
    def run(self, seconds: float | None = None) -> int:
        self.scheduler.start()
        if self.s.program > 0:
            self.out.send((0xC0 | self.cfg.out_channel, self.s.program - 1))
        try:
            self._loop(seconds)
        except BaseException as exc:  # noqa: BLE001 - every exit path must panic first
            self.error = exc
            self.stop_reason = self.stop_reason or f"error: {type(exc).__name__}: {exc}"
            self.exit_code = 1
        finally:
            self.shutdown()
        return self.exit_code

    def _clock_ready(self, now: int) -> bool:
        if isinstance(self.timeline, MidiClockFollower):
            return self.timeline.running and self.timeline.is_alive(now)
        return True

    def _loop(self, seconds: float | None) -> None:
        t_end = None if seconds is None else self.clock.now_ns() + int(seconds * 1e9)
        deadline = self.clock.now_ns()
        was_ready = True
        next_check = 0
        while self.stop_reason is None:
            now = self.clock.now_ns()
            if t_end is not None and now >= t_end:
                self.request_stop("time limit")
                break
            ready = self._clock_ready(now)
            if was_ready and not ready:  # the DAW stopped or the clock dropped out
                self.engine.planner.cut(now)
                self.engine.next_beat = None
            was_ready = ready
            if ready and now >= deadline:
                deadline = self.engine.tick(now)
                self._metronome_and_clock(now)
            if now >= next_check:
                self._check_ports(now)
                next_check = now + 1_000_000_000
                if self.status:
                    self.status(self)
            wait_ns = max(0, min(deadline - self.clock.now_ns(), 20_000_000))
            item = self.inp.get(timeout=wait_ns / 1e9)
            while item is not None:
                self._handle(*item)
                item = self.inp.get(timeout=0)

    def _handle(self, msg: tuple[int, ...], t_ns: int) -> None:
        if not msg:
            return
        if msg[0] in CLOCK_STATUSES:
            if isinstance(self.timeline, MidiClockFollower):
                self.timeline.feed(msg[0], t_ns, tuple(msg[1:]))
            return
        if self.sent.is_echo(msg, t_ns):
            return  # our own output came back (a DAW loop): never answer ourselves
        if msg[0] & 0xF0 == 0xB0 and self._cc_action(msg[1], msg[2], t_ns):
            return
        if msg[0] & 0xF0 == 0x90 and len(msg) > 2 and msg[2] > 0:
            self.notes_in += 1
        self.engine.on_message(msg, t_ns)
        if self.s.thru and msg[0] & 0xF0 in (0x80, 0x90, 0xB0, 0xE0):
            self.scheduler.schedule(self.clock.now_ns() + 1, msg)

    def _cc_action(self, number: int, value: int, t_ns: int) -> bool:
        actions = {n: a for a, n in self.s.cc.items()}
        action = actions.get(number)
        if action is None:
            return False
        if action == "panic" and value >= 64:
            self.engine.planner.cut(t_ns)
            self.scheduler.panic()
        elif action == "end_call" and value >= 64:
            self.engine.listener.keys_down.clear()  # the call is over: answer after silence
        elif action == "temperature":
            self.engine.sampler.reconfigure(temperature=max(0.05, 2.0 * value / 127))
        elif action == "mode":
            modes = ("call-response", "continue", "duet")
            self.engine.mode.cfg.mode = modes[min(2, value * 3 // 128)]
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

    def _check_ports(self, now: int) -> None:
        """At least once a second: a port that vanished is reported, released, reopened."""
        for name, port in (("output", self.out.port), ("input", self.inp)):
            present = getattr(port, "is_present", lambda: True)()
            if name == "output":
                if not present and self.out.connected:
                    log.warning(
                        "output port %s disappeared; holding, will reconnect", self.out.name
                    )
                    self.out.connected = False
                    self.engine.planner.cut(now)
                    self.scheduler.panic()  # clears the queue; the ledger's notes are gone
                elif present and not self.out.connected:
                    try:
                        self.out.port.reconnect()
                        self.out.connected = True
                        log.warning("output port %s is back", self.out.name)
                    except PortVanishedError:
                        pass
            elif not present:
                try:
                    port.reconnect()
                    log.warning("input port is back")
                except PortVanishedError:
                    pass

    # --- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Panic (note-offs for every ledger note, CC64=0, CC123), flush, record, close."""
        if self.clock_started:
            self.scheduler.cancel_from(0)
            self.scheduler.schedule(self.clock.now_ns() + 1, (0xFC,))  # Stop
            time.sleep(0.005)
        try:
            self.scheduler.stop(panic=True)
        except Exception as exc:  # noqa: BLE001 - a dead port must not stop the rest
            log.warning("panic failed: %s", exc)
        if self.record is not None:
            self._write_record()
        for port in (self.out, self.inp):
            try:
                port.close()
            except Exception:  # noqa: BLE001
                pass

    def _write_record(self) -> None:
        from rtgen.io.midifile import write_midi

        def beat_at(t: int) -> float:
            return self.timeline.beat_at(t)

        player = list(self.engine.listener.notes)
        with self.sent.lock:
            model = sent_to_notes(list(self.sent.model), beat_at, Role.MODEL, self.cfg.out_channel)
        if player or model:
            origin = min(n.start for n in player + model)
            shift = origin - (origin % self.s.beats_per_bar)
            notes = [
                n.__class__(n.start - shift, n.end - shift, n.pitch, n.velocity, n.role)
                for n in player + model
            ]
        else:
            notes = []
        bpm = self.timeline.bpm or self.s.bpm
        write_midi(notes, self.record, bpm=bpm)
        print(
            f"rtgen: recorded {len(player)} player and {len(model)} model notes to {self.record}",
            file=sys.stderr,
        )
