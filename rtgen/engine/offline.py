"""Run the engine on a fake clock: minutes of music in milliseconds, exactly repeatable.

rtgen generate and rtgen demo use this, and so do the engine's tests: the same Engine as
``rtgen play``, driven by simulated time instead of threads.
"""

from __future__ import annotations

from rtgen.engine.clock import BeatClock, FakeClock
from rtgen.engine.engine import Engine, EngineConfig
from rtgen.engine.ledger import NoteLedger
from rtgen.engine.portproto import FakeOutputPort
from rtgen.engine.scheduler import Scheduler


class OfflineRig:
    """An engine wired to a fake clock and a fake output port."""

    def __init__(
        self,
        cfg: EngineConfig,
        session,
        bpm: float = 120.0,
        start_ns: int = 1_000_000_000,
    ) -> None:
        self.clock = FakeClock(start_ns)
        self.timeline = BeatClock(bpm, cfg.mode.beats_per_bar, origin_ns=start_ns)
        self.port = FakeOutputPort("offline", clock=self.clock)
        self.ledger = NoteLedger()
        self.scheduler = Scheduler(self.port, self.clock, self.ledger, flush_s=0.0)
        self.engine = Engine(cfg, session, self.timeline, self.clock, self.scheduler)

    def run(self, inputs: list[tuple[int, tuple[int, ...]]], until_ns: int) -> None:
        """Play ``inputs`` ((t_ns, message), any order) and run the engine until ``until_ns``.

        The end is exclusive: a note due at ``until_ns`` is not started (the panic after
        the run would end it at once, a zero-length note in the file)."""
        last = until_ns - 1
        pending = sorted(inputs, key=lambda x: x[0])
        i = 0
        now = self.clock.now_ns()
        deadline = self.engine.tick(now)
        while now < until_ns:
            nxt = [deadline, until_ns]
            if i < len(pending):
                nxt.append(pending[i][0])
            sched = self.scheduler.next_deadline()
            if sched is not None:
                nxt.append(sched)
            now = max(now, min(nxt))
            self.clock.set(now)
            self.scheduler.run_due(min(now, last))
            while i < len(pending) and pending[i][0] <= now:
                self.engine.on_message(pending[i][1], pending[i][0])
                i += 1
            deadline = self.engine.sooner(deadline)  # a chord changed: a replan is due
            if now >= deadline:
                deadline = self.engine.tick(now)
                # planning takes wall time the fake clock does not see, unless a test
                # session advances it (a slow model): re-read the clock
                now = self.clock.now_ns()
            self.scheduler.run_due(min(now, last))

    def stop(self) -> None:
        """The panic sequence, as on any exit path."""
        self.scheduler.panic()

    def beats_to_ns(self, beat: float) -> int:
        return self.timeline.time_of(beat)
