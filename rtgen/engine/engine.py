"""The engine: input -> listener -> planner (once per beat, as the mode decides) -> scheduler.

Clock-agnostic: ``on_message(msg, t_ns)`` and ``tick(now_ns)`` are all it needs, so the same
object runs live (rtgen play, with threads) and offline on a fake clock (rtgen generate,
demo, tests) and plays exactly the same notes for the same input, seed and model.

Everything else a caller may do to a running engine is a named operation below (``halt``,
``cut``, ``skip_to``, ``end_call``, ``set_mode``, ``set_temperature``, ``clock_message``) and
what it may read is ``stats()``, ``held_keys()`` and ``player_notes()``: its parts (listener,
planner, mode, sampler) are its own, and no module outside rtgen/engine writes them
(tests/test_layers.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtgen import tokens as T
from rtgen.engine.clock import BeatTimeline, Clock
from rtgen.engine.keys import KeyTracker
from rtgen.engine.listener import Listener
from rtgen.engine.modes import Mode, ModeConfig
from rtgen.engine.planner import Planner
from rtgen.engine.sampler import Sampler, SamplerConfig
from rtgen.engine.scheduler import Scheduler
from rtgen.events import Note

PLAN_AHEAD_MAX_NS = 80_000_000  # plan beat b this long before it (or a quarter beat)
STATS_STEPS = 2000  # model step times kept in EngineStats (the status line's p50 and p99)


@dataclass
class EngineConfig:
    mode: ModeConfig
    sampler: SamplerConfig
    in_channel: int | None = None  # None: listen on every channel
    out_channel: int = 0
    lookahead: int = 1
    commit: int = 1
    auto_key: bool = False  # estimate the key from the player (Krumhansl-Kessler)


@dataclass(frozen=True)
class EngineStats:
    """What the engine has done so far, copied out in one piece."""

    state: str  # the mode's: listening, answering or playing
    plans: int
    notes: int  # model notes scheduled
    shifted: int  # late notes moved to the next grid step
    dropped: int  # late notes dropped
    merged: int  # re-strikes within one grid step merged
    stuck_keys: int  # keys released because they lost their note-off
    barge_ins: int
    answers: int
    answer_start: int  # beat where the last answer began
    step_ns: tuple[int, ...]  # wall time of the last STATS_STEPS model steps


class Engine:
    def __init__(
        self,
        cfg: EngineConfig,
        session,
        timeline: BeatTimeline,
        clock: Clock,  # noqa: ANN001
        scheduler: Scheduler,
    ) -> None:
        self.cfg, self.timeline, self.clock, self.scheduler = cfg, timeline, clock, scheduler
        self.listener = Listener(timeline, cfg.in_channel)
        self.sampler = Sampler(cfg.sampler)
        self.planner = Planner(session, self.sampler, timeline, clock, scheduler, cfg.out_channel)
        self.mode = Mode(cfg.mode, self.listener)
        self.next_beat: int | None = None
        self.barge_ins = 0
        self.keys = KeyTracker(half_life_beats=32.0) if cfg.auto_key else None
        self._notes_seen = 0

    def on_message(self, message: tuple[int, ...], t_ns: int) -> None:
        """One raw input message, stamped when it arrived."""
        for ev in self.listener.feed(message, t_ns):
            if ev.is_on and self.mode.on_player_note():
                self.barge_ins += 1
                grid_ns = self.timeline.time_of(1 / T.GRID_STEPS_PER_BEAT) - self.timeline.time_of(
                    0
                )
                self.planner.cut(max(t_ns, self.clock.now_ns()) + min(grid_ns, 1_000_000))
                self.listener.call_start_ns = t_ns
            self.planner.add_player_event(ev, t_ns)

    def _follow_key(self, beat: int) -> None:
        """Feed the player's finished notes to the key tracker; mask to its scale."""
        if self.keys is None:
            return
        new = self.listener.notes[self._notes_seen :]
        self._notes_seen = len(self.listener.notes)
        self.keys.advance(beat)
        self.keys.add_notes(new)
        scale = self.keys.scale(leading_tone=True)
        if scale is not None and frozenset(scale) != self.sampler.config.key:
            self.sampler.reconfigure(key=frozenset(scale))

    def plan_deadline(self, beat: int) -> int:
        t_b = self.timeline.time_of(beat)
        quarter = self.timeline.time_of(beat + 0.25) - t_b
        return t_b - min(PLAN_AHEAD_MAX_NS, quarter)

    def tick(self, now_ns: int) -> int:
        """Plan every beat whose deadline has come; returns the next deadline (ns)."""
        if self.next_beat is None:  # start with the first beat far enough ahead
            self.next_beat = int(self.timeline.next_beat(now_ns)) + 1
        while now_ns >= self.plan_deadline(self.next_beat):
            for ev in self.listener.release_stuck(now_ns):
                self.planner.add_player_event(ev, now_ns)
            beat = self.next_beat
            decision = self.mode.decide(beat)
            if decision.plan:
                self._follow_key(beat)
                end = self.mode.answer_end if self.mode.state == "answering" else None
                self.planner.plan(
                    beat, self.cfg.lookahead, self.cfg.commit, decision.first_note, end
                )
                self.next_beat = beat + self.cfg.commit
            else:
                self.planner.commit(min(now_ns, self.timeline.time_of(beat)))
                self.next_beat = beat + 1
        return self.plan_deadline(self.next_beat)

    # --- named operations: all that live and replay do to a running engine ------------------
    def clock_message(self, message: tuple[int, ...], t_ns: int) -> None:
        """A MIDI clock message (stamped on arrival) for an external clock's follower."""
        self.timeline.feed(message[0], t_ns, tuple(message[1:]))

    def cut(self, t_ns: int) -> None:
        """Nothing of the model's sounds after ``t_ns`` (a panic, a lost output)."""
        self.planner.cut(t_ns)

    def halt(self, t_ns: int) -> None:
        """The clock stopped: cut at ``t_ns`` and plan afresh when it runs again."""
        self.planner.cut(t_ns)
        self.next_beat = None

    def skip_to(self, beat: int) -> None:
        """Plan ``beat`` next: the beats before it passed before they could be planned."""
        self.next_beat = beat

    def end_call(self) -> None:
        """The player says the call is over: answer after the silence, keys down or not."""
        self.listener.end_call()

    def set_mode(self, mode: str) -> None:
        self.mode.set_mode(mode)

    def set_temperature(self, temperature: float) -> None:
        self.sampler.reconfigure(temperature=temperature)

    # --- what it shows -----------------------------------------------------------------------
    def stats(self) -> EngineStats:
        plan = self.planner.stats
        return EngineStats(
            state=self.mode.state,
            plans=plan.plans,
            notes=plan.notes,
            shifted=plan.shifted,
            dropped=plan.dropped,
            merged=plan.merged,
            stuck_keys=self.listener.stuck_released,
            barge_ins=self.barge_ins,
            answers=self.mode.answers,
            answer_start=self.mode.answer_start,
            step_ns=tuple(plan.step_ns[-STATS_STEPS:]),
        )

    def held_keys(self) -> tuple[list[int], bool]:
        """(the pitches of the keys down, low to high; whether the sustain pedal is down)."""
        return sorted(self.listener.keys_down), self.listener.pedal

    def player_notes(self) -> list[Note]:
        """The player's finished notes so far, in beats."""
        return list(self.listener.notes)
