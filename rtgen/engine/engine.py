"""The engine: input -> listener -> planner (once per beat, as the mode decides) -> scheduler.

Clock-agnostic: ``on_message(msg, t_ns)`` and ``tick(now_ns)`` are all it needs, so the same
object runs live (rtgen play, with threads) and offline on a fake clock (rtgen generate,
demo, tests) and plays exactly the same notes for the same input, seed and model.

Everything else a caller may do to a running engine is a named operation below (``halt``,
``cut``, ``skip_to``, ``end_call``, ``set_mode``, ``set_temperature``, ``clock_message``,
``chord_keys_lost``) and what it may read is ``stats()``, ``held_keys()`` and
``player_notes()``: its parts (listener, planner, mode, sampler) are its own, and no module
outside rtgen/engine writes them (tests/test_layers.py checks).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

from rtgen import tokens as T
from rtgen.critic.features import call_window
from rtgen.engine.clock import BeatTimeline, Clock
from rtgen.engine.feel import Feel
from rtgen.engine.harmony import HarmonyBias, HarmonyRoute, HeldChord
from rtgen.engine.keys import PLAY_HALF_LIFE_BEATS, KeyTracker
from rtgen.engine.listener import Listener
from rtgen.engine.manner import Manner, estimate_manner
from rtgen.engine.memory import Memory
from rtgen.engine.modes import Mode, ModeConfig
from rtgen.engine.ornament import Ornament
from rtgen.engine.planner import Planner
from rtgen.engine.rhythmfit import PICK_WEIGHT
from rtgen.engine.sampler import Sampler, SamplerConfig
from rtgen.engine.scheduler import Scheduler
from rtgen.engine.steer import Steer, SteerConfig
from rtgen.engine.tempo import TapTempo, Tempo, estimate_tempo
from rtgen.events import Note

PLAN_AHEAD_MAX_NS = 80_000_000  # plan beat b this long before it (or a quarter beat)
MAX_TEMPO_ONSETS = 64  # --bpm auto hears at most this many onsets of the first call
CHORD_SETTLE_NS = 20_000_000  # a chord's keys struck by hand spread over this (replan after)
STATS_STEPS = 2000  # model step times kept in EngineStats (the status line's p50 and p99)


log = logging.getLogger("rtgen.engine")


@dataclass
class EngineConfig:
    mode: ModeConfig
    sampler: SamplerConfig
    in_channel: int | None = None  # None: listen on every channel
    out_channel: int = 0
    lookahead: int = 1
    commit: int = 1
    auto_key: bool = False  # estimate the key from the player (Krumhansl-Kessler)
    steer: SteerConfig | None = None  # the call's manner and the session memory (None: off)
    key_mask: bool = True  # the key masks (--key-strict); False: a preference (steer.key)
    prefer_key: frozenset[int] | None = None  # a given key as a preference (key_mask False)
    candidates: int = 1  # continuations sampled per answer plan; the critic keeps the best
    critic: str | None = None  # the critic file (rtgen.critic); None: one candidate
    harmony_route: HarmonyRoute | None = None  # what carries the harmony (None: nothing)
    harmony: float = 0.0  # the held chord's strength in the logits (harmony.py; 0: off)
    tempo_from_call: bool = False  # --bpm auto: the first call sets tempo and beat (tempo.py)
    plan_lead_ns: int = 0  # --latency-ms: sent that much early, so planned that much earlier


@dataclass(frozen=True)
class EngineStats:
    """What the engine has done so far, copied out in one piece."""

    state: str  # the mode's: listening, answering or playing
    plans: int
    notes: int  # model notes scheduled
    shifted: int  # late notes moved to the next grid step
    dropped: int  # late notes dropped
    merged: int  # re-strikes within one grid step merged
    graces: int  # grace notes sent before the model's notes (the call's ornaments)
    stuck_keys: int  # keys released because they lost their note-off
    barge_ins: int
    answers: int
    answer_start: int  # beat where the last answer began
    memory_notes: int  # intervals the session memory holds
    step_ns: tuple[int, ...]  # wall time of the last STATS_STEPS model steps


class Engine:
    def __init__(
        self,
        cfg: EngineConfig,
        session,
        timeline: BeatTimeline,
        clock: Clock,
        scheduler: Scheduler,
        memory: Memory | None = None,  # the session memory to start from (--memory FILE)
    ) -> None:
        self.cfg, self.timeline, self.clock, self.scheduler = cfg, timeline, clock, scheduler
        self.listener = Listener(timeline, cfg.in_channel)
        self.sampler = Sampler(cfg.sampler)
        self._feel_seed = cfg.sampler.seed  # the answers' feel repeats with the sampler's seed
        self.memory = memory if memory is not None else Memory()
        self.steer = Steer(cfg.steer, self.memory) if cfg.steer is not None else None
        if self.steer is not None and not cfg.key_mask:
            self.steer.set_scale(cfg.prefer_key)
        self.planner = Planner(
            session, self.sampler, timeline, clock, scheduler, cfg.out_channel, steer=self.steer
        )
        self._open_critic(cfg, session)
        self.mode = Mode(cfg.mode, self.listener)
        self._call_from = 0  # index in listener.notes of the current call's first note
        # the last answered call: its first note's index, its start (ns), whether it was learned
        self._answered: tuple[int, int | None, bool] = (0, None, False)
        self._steered_bar = -1  # duet: the last bar whose manner was estimated
        self._manner: Manner | None = None  # the last manner estimated
        self.next_beat: int | None = None
        self.barge_ins = 0
        self.keys = KeyTracker(half_life_beats=PLAY_HALF_LIFE_BEATS) if cfg.auto_key else None
        self._notes_seen = 0
        self.held_chord = HeldChord() if cfg.harmony_route is not None else None
        if self.held_chord is not None and cfg.harmony > 0:
            self.planner.harmony = HarmonyBias(cfg.harmony)
        self.wake_ns: int | None = None  # a replan is due then (a chord changed mid-answer)
        self.taps = TapTempo()
        self.realigns = 0  # times the player moved the grid (the live loop re-times its clicks)
        # the onsets (ns) that set the tempo until the call they belong to is answered (--bpm
        # auto: the first call's; after a tap count: the taps', then the call's after them)
        self._first_call: list[int] | None = [] if cfg.tempo_from_call else None
        self._tempo_answers = 0  # answers so far when they began: the next one ends them

    def on_message(self, message: tuple[int, ...], t_ns: int, chords: bool = False) -> None:
        """One raw input message, stamped when it arrived; ``chords``: from the chord port."""
        route = self.cfg.harmony_route
        if route is not None and route.is_harmony(message, chords):
            self._on_harmony(message, t_ns)
            return
        for ev in self.listener.feed(message, t_ns):
            if self._hear_tempo(ev.is_on, t_ns):  # the grid moved: this event's beat too
                ev = replace(ev, beat=self.timeline.beat_at(t_ns))
            if ev.is_on and self.mode.on_player_note():
                self.barge_ins += 1
                grid_ns = self.timeline.time_of(1 / T.GRID_STEPS_PER_BEAT) - self.timeline.time_of(
                    0
                )
                self.planner.cut(max(t_ns, self.clock.now_ns()) + min(grid_ns, 1_000_000))
                self.listener.call_start_ns = self._call_goes_on(t_ns)
            self.planner.add_player_event(ev, t_ns)

    # --- the player's tempo (tempo.py) ----------------------------------------------------------
    def _hear_tempo(self, is_on: bool, t_ns: int) -> bool:
        """--bpm auto: each time the first call's keys are all up (it may be over), its
        onsets so far set the tempo and the beat, before the silence after it is counted.
        The call ends it: an answer, or anything but listening (play refuses --bpm auto in
        duet and continue modes), or MAX_TEMPO_ONSETS onsets. True when the grid moved."""
        if self._first_call is None:
            return False
        if self.mode.answers > self._tempo_answers or self.mode.state != "listening":
            self._first_call = None
            return False
        if is_on:
            self._first_call.append(t_ns)
            if len(self._first_call) > MAX_TEMPO_ONSETS:
                self._first_call = None
            return False
        if self.listener.any_held:
            return False
        tempo = estimate_tempo(self._first_call)
        return tempo is not None and self._realign(tempo, t_ns)

    def tap(self, t_ns: int) -> bool:
        """A tap of tap tempo (a CC): after a steady count the beat follows the taps, the last
        one a beat. Only while rtgen listens (an answer keeps its tempo) and on its own
        clock (an external one is the DAW's). The call played after the count refines it
        as --bpm auto's first call does (four taps span three beats; the answer comes ten
        or more beats later). True when the tempo was set."""
        tempo = self.taps.tap(t_ns)
        if tempo is None or self.mode.state != "listening":
            return False
        self._first_call = list(self.taps.taps)
        self._tempo_answers = self.mode.answers
        return self._realign(tempo, t_ns)

    def _realign(self, tempo: Tempo, now_ns: int) -> bool:
        """The timeline to the player's tempo and beat; what is in beats follows (the call's
        notes, the events not yet committed), and the next plan is found afresh."""
        realign = getattr(self.timeline, "realign", None)
        if realign is None:
            return False
        old = self.timeline.time_of
        before = [(old(n.start), old(n.end)) for n in self.listener.notes]
        # the floor: what the model has heard stays before what it will hear
        pending = [t for t, _ in self.planner.player]
        realign(tempo.bpm, tempo.beat_ns, min(pending, default=now_ns), self.planner.committed_beat)
        self.planner.forget_plan()
        self.wake_ns = None
        self.realigns += 1
        beat_at = self.timeline.beat_at
        self.listener.notes = [
            replace(n, start=beat_at(t0), end=beat_at(t1))
            for n, (t0, t1) in zip(self.listener.notes, before)
        ]
        self.planner.player = [(t, replace(ev, beat=beat_at(t))) for t, ev in self.planner.player]
        self.next_beat = None
        return True

    def _on_harmony(self, message: tuple[int, ...], t_ns: int) -> None:
        """A harmony message: never a call. A new chord steers the notes planned from the
        next grid step on: what is planned past then is planned again once the chord's keys
        have all come down (CHORD_SETTLE_NS)."""
        if not self.held_chord.feed(message, t_ns):
            return
        if self.planner.harmony is not None:
            step = math.ceil(self.timeline.beat_at(t_ns) * T.GRID_STEPS_PER_BEAT)
            self.planner.harmony.set_chord(self.held_chord.chord, step)
            if self.mode.state != "listening" and self.planner.planned_past(t_ns):
                self.wake_ns = t_ns + CHORD_SETTLE_NS

    def _follow_key(self, beat: int) -> None:
        """Feed the player's finished notes to the key tracker; mask to its scale."""
        if self.keys is None:
            return
        new = self.listener.notes[self._notes_seen :]
        self._notes_seen = len(self.listener.notes)
        self.keys.advance(beat)
        self.keys.add_notes(new)
        scale = self.keys.scale(leading_tone=True)
        if scale is not None and self.steer is not None and not self.cfg.key_mask:
            self.steer.set_scale(frozenset(scale))  # the key as a preference
        elif scale is not None and frozenset(scale) != self.sampler.config.key:
            self.sampler.reconfigure(key=frozenset(scale))

    def plan_deadline(self, beat: int) -> int:
        t_b = self.timeline.time_of(beat)
        quarter = self.timeline.time_of(beat + 0.25) - t_b
        return t_b - min(PLAN_AHEAD_MAX_NS, quarter) - self.cfg.plan_lead_ns

    def tick(self, now_ns: int) -> int:
        """Plan every beat whose deadline has come; returns the next deadline (ns)."""
        if self.next_beat is None:  # start with the first beat far enough ahead
            self.next_beat = int(self.timeline.next_beat(now_ns)) + 1
        if self.wake_ns is not None and now_ns >= self.wake_ns:
            self.wake_ns = None
            self.planner.replan_from(now_ns)
        while now_ns >= self.plan_deadline(self.next_beat):
            for ev in self.listener.release_stuck(now_ns):
                self.planner.add_player_event(ev, now_ns)
            beat = self.next_beat
            call_start_ns = self.listener.call_start_ns
            decision = self.mode.decide(beat)
            if decision.plan:
                self._follow_key(beat)
                self._steer(beat, decision.first_note, call_start_ns)
                end = self.mode.answer_end if self.mode.state == "answering" else None
                self.planner.plan(
                    beat, self.cfg.lookahead, self.cfg.commit, decision.first_note, end
                )
                self.next_beat = beat + self.cfg.commit
            else:
                self.planner.commit(min(now_ns, self.timeline.time_of(beat)))
                self.next_beat = beat + 1
        deadline = self.plan_deadline(self.next_beat)
        return deadline if self.wake_ns is None else min(deadline, self.wake_ns)

    def _open_critic(self, cfg: EngineConfig, session) -> None:
        """Best of N: the critic, when N > 1 and the model can step N states at once (an
        ONNX step graph exported before batched graphs plays one candidate, and says so)."""
        if cfg.candidates <= 1 or cfg.critic is None:
            return
        if getattr(session, "batched", True) is False:
            log.warning(
                "%s steps one state at a time (exported before --candidates): playing one "
                "candidate; re-export it with rtgen export for best of %d",
                getattr(session, "path", "the model"),
                cfg.candidates,
            )
            return
        from rtgen.critic.session import CriticSession

        self.planner.critic = CriticSession.open(cfg.critic)
        self.planner.candidates = cfg.candidates
        if cfg.steer is not None:  # the rhythm aspect of the manner weighs in the pick too
            self.planner.rhythm_pick = PICK_WEIGHT * cfg.steer.strengths.rhythm

    # --- the call's manner and the session memory ------------------------------------------
    def _steer(self, beat: int, answer: bool, call_start_ns: int | None) -> None:
        """At an answer's first beat: learn the call and steer the answer by its manner. In
        duet and continue modes, each bar the model plays is steered by the player's last
        two bars, and what the player played since the last such bar is learned."""
        bar = self.cfg.mode.beats_per_bar
        if answer:
            call = self.listener.notes[self._call_from :]
            # the critic's call (with one candidate, nothing to judge: nothing kept)
            window = call_window(call, bar) if self.planner.critic is not None else None
            self.planner.begin_answer(window, beat)
            self._answered = (self._call_from, call_start_ns, False)
            self._call_from = len(self.listener.notes)
            steps = (self.mode.answer_end - beat) * T.GRID_STEPS_PER_BEAT
        elif self.cfg.mode.mode != "call-response" and beat // bar != self._steered_bar:
            self.planner.begin_answer(None, beat)  # playing along: one candidate
            self._steered_bar = beat // bar
            call = [n for n in self.listener.notes[-64:] if n.start >= beat - 2 * bar]
            steps = bar * T.GRID_STEPS_PER_BEAT
            new = estimate_manner(self.listener.notes[self._call_from :], bar)
            self._call_from = len(self.listener.notes)
            if new is not None and self.steer is not None:
                self.memory.learn(new.line, new.gaps)
        else:
            return
        if self.steer is None:
            return
        manner = estimate_manner(call, bar)
        if manner is None and not answer:  # the player rests: keep to how they last played
            manner = self._manner
        self._manner = manner or self._manner
        if manner is not None and answer:
            self._answered = (*self._answered[:2], self.memory.learn(manner.line, manner.gaps))
        self.steer.begin(manner, beat * T.GRID_STEPS_PER_BEAT, steps)  # None: unsteered
        if manner is not None:
            self.planner.feel = Feel.of(manner.deviations, self.steer.cfg.feel, self._feel_seed)
        # no call heard: no grace notes (the feel keeps the last player's timing)
        self.planner.ornament = manner and Ornament.of(
            manner, self.steer.cfg.ornament, self._feel_seed
        )

    def _call_goes_on(self, t_ns: int) -> int:
        """The player came in during an answer: where the call now playing began. Within a
        bar of the answer's start, the call the model answered goes on after a rest (its
        notes and its start are this call's, and the memory forgets the part it learned);
        later, the player starts a new call."""
        first, start_ns, learned = self._answered
        answer_ns = self.timeline.time_of(self.mode.answer_start + self.cfg.mode.beats_per_bar)
        if start_ns is None or t_ns >= answer_ns:
            return t_ns
        self._call_from = first
        if learned:
            self.memory.forget_last()
        self._answered = (first, start_ns, False)
        return start_ns

    # --- named operations: all that live and replay do to a running engine ------------------
    def clock_message(self, message: tuple[int, ...], t_ns: int) -> None:
        """A MIDI clock message (stamped on arrival) for an external clock's follower."""
        self.timeline.feed(message[0], t_ns, tuple(message[1:]))

    def cut(self, t_ns: int) -> None:
        """Nothing of the model's sounds after ``t_ns`` (a panic, a lost output)."""
        self.planner.cut(t_ns)
        self.wake_ns = None

    def halt(self, t_ns: int) -> None:
        """The clock stopped: cut at ``t_ns`` and plan afresh when it runs again."""
        self.planner.cut(t_ns)
        self.wake_ns = None
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

    def chord_keys_lost(self) -> None:
        """The input holding the harmony keys went away (the chord port, or a split
        keyboard): the keys are let go at once, so none can join the next chord spelled;
        the chord they spelled is kept (as a released chord is), never read again from a
        key-up at a time."""
        if self.held_chord is not None:
            self.held_chord.let_go()

    def reset_memory(self) -> None:
        """Forget the player's phrases (a CC)."""
        self.memory.reset()

    def memory_doc(self) -> dict:
        """The session memory as plain data (``Memory.from_dict`` reads it; --memory FILE)."""
        return self.memory.to_dict()

    def sooner(self, deadline_ns: int) -> int:
        """The next tick's time: ``deadline_ns`` (what :meth:`tick` returned), or sooner
        when a chord change wants the plan sampled again (the one rule the live loop and
        the offline rig both wait by)."""
        return deadline_ns if self.wake_ns is None else min(deadline_ns, self.wake_ns)

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
            graces=plan.graces,
            stuck_keys=self.listener.stuck_released,
            barge_ins=self.barge_ins,
            answers=self.mode.answers,
            answer_start=self.mode.answer_start,
            memory_notes=self.memory.notes,
            step_ns=tuple(plan.step_ns[-STATS_STEPS:]),
        )

    def held_keys(self) -> tuple[list[tuple[int, int]], bool]:
        """(the (channel, pitch) of the keys down, in order; whether the sustain pedal is
        down)."""
        return sorted(self.listener.keys_down), self.listener.pedal

    def chord_name(self) -> str | None:
        """The held chord's name ("Dm7"), None when no chord has been held (or no harmony)."""
        chord = self.held_chord.chord if self.held_chord is not None else None
        return chord.name if chord is not None else None

    def player_notes(self) -> list[Note]:
        """The player's finished notes so far, in beats."""
        return list(self.listener.notes)
