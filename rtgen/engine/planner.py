"""Once per beat: commit what happened, roll back, sample the next beat(s), schedule them.

The committed stream is what actually happened, in time order: the player's notes as they
arrived and the model's notes once their times have passed. It is encoded by the same
StreamingEncoder as the training data and fed to the model; the model state after it is
the committed state. A plan is speculative: from a snapshot of the committed state the
planner feeds the shifts up to the planned beat, samples ``lookahead`` beats of which the
first ``commit`` are kept (notes started there get their whole length, sampled on past the
window if needed), schedules those notes, and restores the snapshot.

Model notes already scheduled whose note-off lies in the future are "fixed": their
NOTE_OFF is written into the speculative stream at its step, and the sampler may neither
end them early nor re-strike them. A note whose time has already passed when the plan is
ready is moved to the next grid step, or dropped if that is past its own end; both are
counted. Nothing is ever scheduled in the past.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rtgen import tokens as T
from rtgen.critic.features import row
from rtgen.engine.candidates import FEED, SNAP, drive_many, drive_one, states_for
from rtgen.engine.clock import BeatTimeline, Clock
from rtgen.engine.feel import Feel, spaced
from rtgen.engine.ornament import LEAD_MS, MIN_GAP_STEPS, SOFTER, Ornament
from rtgen.engine.rhythmfit import RhythmFit
from rtgen.engine.sampler import GenState, Sampler
from rtgen.engine.scheduler import Scheduler
from rtgen.engine.steer import Steer
from rtgen.events import Note, NoteEvent, Role

G = T.GRID_STEPS_PER_BEAT


@dataclass
class PlannedNote:
    t_on: int
    t_off: int
    pitch: int
    velocity: int
    on_fed: bool = False  # already in the committed stream
    off_fed: bool = False
    note_id: int | None = None  # the scheduler's id (a replan takes it back by it)
    sent_on: int = 0  # when the scheduler sends it (the feel moves it off the grid times)
    sent_off: int = 0


@dataclass
class _Grace:
    """A grace note sent into a model note, and what it changed (a replan undoes it)."""

    main_t: int  # the grid time of the note it leads into
    note_id: int
    pitch: int
    sent_off_before: int | None  # the planner's _sent_off of its pitch before it
    shortened: list[tuple[PlannedNote, int]]  # notes it ended sooner, with their old ends


@dataclass
class _Resume:
    """The model state after a plan's speculative tokens up to the end of its kept beats."""

    base: int  # len(Planner.committed) when the speculation started from the committed state
    tokens: list[int]  # the speculative tokens up to there
    snap: object  # session snapshot after them
    logits: np.ndarray


@dataclass
class _Run:
    """One candidate continuation being sampled: its generation state, its speculative
    tokens, and where the stream reaches the end of its kept beats (its resume point)."""

    gen: GenState
    logits: np.ndarray
    keep_end: int = 0  # grid step where the plan's kept beats end
    spec: list[int] = field(default_factory=list)  # its speculative tokens
    pending: list[int] = field(default_factory=list)  # not yet fed to the model
    resume: _Resume | None = None


@dataclass
class PlanStats:
    plans: int = 0
    notes: int = 0  # model notes scheduled
    shifted: int = 0  # late notes moved to the next grid step
    dropped: int = 0  # late notes dropped
    merged: int = 0  # re-strikes within one grid step merged into the sounding note
    graces: int = 0  # grace notes sent before the model's notes (the call's ornaments)
    steps: int = 0  # model steps (step_ns is trimmed; this counts all)
    reused: int = 0  # committed tokens whose model state was taken from the last plan
    plan_ns: list[int] = field(default_factory=list)  # wall time of each plan
    batch_steps: int = 0  # batched steps of N candidates (best of N)
    batch_step_ns: list[int] = field(default_factory=list)  # wall time of each
    critic_ns: list[int] = field(default_factory=list)  # wall time of each critic call
    picked_other: int = 0  # plans where the critic kept another candidate than the first
    step_ns: list[int] = field(default_factory=list)  # wall time of each model step

    def trim(self, keep: int = 4096) -> None:
        """Bound the sample lists so hours of play keep memory flat."""
        for name in ("plan_ns", "step_ns", "batch_step_ns", "critic_ns"):
            values = getattr(self, name)
            if len(values) > 2 * keep:
                del values[:-keep]


class Planner:
    """Owns the model session, the committed stream, and the model's scheduled notes."""

    def __init__(
        self,
        session,
        sampler: Sampler,
        timeline: BeatTimeline,
        clock: Clock,
        scheduler: Scheduler,
        channel: int = 0,
        guard_ns: int = 2_000_000,
        steer: Steer | None = None,
    ) -> None:
        self.session, self.sampler, self.timeline = session, sampler, timeline
        self.steer = steer  # the call's manner and the session memory, added to the logits
        self.harmony = None  # the held chord's bias (rtgen.engine.harmony.HarmonyBias)
        self._last_plan: tuple | None = None  # (beat, lookahead, commit, first_note, end_beat)
        self.feel: Feel | None = None  # the call's timing, given to the notes as they are sent
        self.ornament: Ornament | None = None  # the call's grace notes, given to the answer
        self._graces: list[_Grace] = []  # the grace notes of notes not yet started
        self._last_on = -(10**9)  # grid step of the last onset scheduled (feel keeps order)
        self._sent_off: dict[int, int] = {}  # pitch -> when its last note was sent to end
        self.clock, self.scheduler, self.channel = clock, scheduler, channel
        self.guard_ns = guard_ns  # a note must be at least this far in the future to schedule
        self.stats = PlanStats()
        self.encoder = T.StreamingEncoder()
        self.gen = GenState(role=Role.PLAYER)
        self.player: list[tuple[int, NoteEvent]] = []  # arrived, not yet committed
        self._swallow: dict[int, int] = {}  # pitch -> note-offs of merged re-strikes to drop
        self.model_notes: list[PlannedNote] = []
        self.committed: list[int] = []  # the whole committed token stream (for replay/debug)
        self._resume: _Resume | None = None
        self._keep_end = 0  # grid step where this plan's kept beats end
        self.candidates = 1  # continuations sampled per plan in an answer (best of N)
        self.critic = None  # picks among them (rtgen.critic.session.CriticSession)
        self._call: list[Note] | None = None  # the answered call, as the critic reads it
        self.rhythm_pick = 0.0  # weight of the call's rhythm in the pick (rhythmfit.py)
        self._fit: RhythmFit | None = None  # the answered call's rhythm, when weighed
        self._answer_beat = 0  # where the answer began
        self._answer: list[Note] = []  # the answer's notes so far, beats from its start
        self.logits = self._feed([T.BOS])

    # --- the committed stream ---------------------------------------------------------
    def _step(self, tokens: list[int]) -> np.ndarray | None:
        """Feed ``tokens`` to the model only (GenState is the caller's): the last logits."""
        logits = None
        step_ns = self.stats.step_ns
        for tok in tokens:
            t0 = time.perf_counter_ns()
            logits = self.session.step(tok)
            step_ns.append(time.perf_counter_ns() - t0)
        self.stats.steps += len(tokens)
        return logits if logits is not None else getattr(self, "logits", None)

    def _feed(self, tokens: list[int]) -> np.ndarray | None:
        for tok in tokens:
            self.gen.update(tok)
        return self._step(tokens)

    def _feed_committed(self, tokens: list[int]) -> np.ndarray | None:
        """Feed committed tokens, starting from the last plan's resume point when they
        open with its tokens (the same tokens from the same state: the same model state)."""
        resume, self._resume = self._resume, None
        n = 0 if resume is None else len(resume.tokens)
        if n and resume.base == len(self.committed) and tokens[:n] == resume.tokens:
            self.session.restore(resume.snap)
            self.logits = resume.logits
            for tok in tokens[:n]:
                self.gen.update(tok)
            self.stats.reused += n
            tokens = tokens[n:]
        return self._feed(tokens)

    def add_player_event(self, event: NoteEvent, t_ns: int) -> None:
        self.player.append((t_ns, event))

    def commit(self, until_ns: int) -> None:
        """Feed everything that happened before ``until_ns``: the player events that arrived
        before it, and the model's notes whose times are before it.

        The stream never runs past the clock: every note takes at least one grid step, so a
        re-strike or a note-off within the grid step of its note-on would push the encoder
        a step on, and a flood of them would run the model's time ahead of real time.
        Such a note-off waits for the next commit. A note-on that cannot be placed within
        one grid step of its own time (a re-strike in the same step, or the stream already
        pushed on by others) merges into what sounds: it and its note-off are dropped and
        counted as ``merged``. Played by hand, no note is ever merged: one grid step is
        1/12 beat."""
        cap = T.to_step(self.timeline.beat_at(until_ns))
        events: list[tuple[int, int, NoteEvent]] = []
        later: list[tuple[int, NoteEvent]] = []
        for t, ev in self.player:
            if t < until_ns:
                events.append((t, 1 if ev.is_on else 0, ev))
            else:
                later.append((t, ev))
        for n in self.model_notes:
            if not n.on_fed and n.t_on < until_ns:
                n.on_fed = True
                ev = NoteEvent(self.timeline.beat_at(n.t_on), n.pitch, n.velocity, Role.MODEL)
                events.append((n.t_on, 1, ev))
            if n.on_fed and not n.off_fed and n.t_off < until_ns:
                n.off_fed = True
                ev = NoteEvent(self.timeline.beat_at(n.t_off), n.pitch, 0, Role.MODEL)
                events.append((n.t_off, 0, ev))
        events.sort(key=lambda e: (e[0], e[1], e[2].pitch))
        tokens: list[int] = []
        waiting: set[int] = set()  # pitches whose note-off waits for the next commit
        for t, _, ev in events:
            if not ev.is_on and self._swallow.get(ev.pitch, 0):
                self._swallow[ev.pitch] -= 1  # the off of a merged re-strike
                continue
            own = T.to_step(ev.beat)
            on_step = self.encoder.sounding.get(ev.pitch)
            need = max(own, self.encoder.step, -1 if on_step is None else on_step + 1)
            room = min(cap, own + 1) if ev.is_on else cap  # a note-on is late one step at most
            blocked = ev.pitch in waiting or need > room
            if blocked and ev.is_on:
                self._swallow[ev.pitch] = self._swallow.get(ev.pitch, 0) + 1
                self.stats.merged += 1
                continue
            if blocked:
                waiting.add(ev.pitch)
                later.append((t, ev))
                continue
            tokens += self.encoder.feed(ev)
        self.player = sorted(later, key=lambda e: e[0])
        self.logits = self._feed_committed(tokens)
        self.committed += tokens
        self.model_notes = [n for n in self.model_notes if not n.off_fed]

    # --- planning ------------------------------------------------------------------------
    def begin_answer(self, call: list[Note] | None, beat: int) -> None:
        """An answer to ``call`` (the critic's call window) starts on ``beat``; None: the
        model plays along (duet, continue), one candidate per plan."""
        self._call, self._answer_beat, self._answer = call, beat, []
        self._fit = RhythmFit(call) if call and self.rhythm_pick > 0 else None

    def plan(
        self,
        beat: int,
        lookahead: int = 1,
        commit: int = 1,
        first_note: bool = False,
        end_beat: int | None = None,
        start_step: int | None = None,
    ) -> int:
        """Plan beats ``[beat, beat + lookahead)`` and schedule the first ``commit`` of them.
        ``first_note``: the plan must open with a note on ``beat`` (an answer's first note).
        ``end_beat``: every note must end by then (the end of an answer). In an answer with
        a critic, ``candidates`` continuations are sampled at once and the critic's best is
        kept. ``start_step``: plan from this grid step of the beat on (a replan). Returns
        the number of notes scheduled."""
        t0 = time.perf_counter_ns()
        start = beat * G if start_step is None else start_step
        self._last_plan = (beat, lookahead, commit, first_note, end_beat)
        self.commit(self._time(start))
        snap, gen_snap, logits_snap = self.session.snapshot(), self.gen.copy(), self.logits
        enc_step = self.encoder.step
        n = self.candidates if self.critic is not None and self._call is not None else 1
        self._keep_end = (beat + commit) * G
        try:
            hard_end = end_beat * G if end_beat is not None else None
            runs = [_Run(gen_snap.copy(), logits_snap, self._keep_end) for _ in range(n)]
            cands = [
                self._sample_window(
                    r, start, beat, lookahead, commit, first_note, enc_step, hard_end
                )
                for r in runs
            ]
            if n == 1:
                results = [drive_one(cands[0], self._step, self.session.snapshot)]
            else:
                states = states_for(self.session, snap, n)
                results = drive_many(cands, states, self._count_batch_step)
            best = self._pick(results)
            notes, self._resume = results[best], runs[best].resume
        finally:
            self.session.restore(snap)
            self.gen, self.logits = gen_snap, logits_snap
        scheduled = self._schedule(notes)
        self.stats.plans += 1
        self.stats.plan_ns.append(time.perf_counter_ns() - t0)
        self.stats.trim()
        return scheduled

    def _count_batch_step(self, ns: int) -> None:
        self.stats.batch_steps += 1
        self.stats.batch_step_ns.append(ns)

    def _pick(self, results: list[list[tuple[int, int, int, int]]]) -> int:
        """The candidate the critic finds most like a real continuation of the call, less
        ``rhythm_pick`` times its rhythm's distance to the call's (the first on a tie); 0
        when there is one."""
        if len(results) == 1:
            return 0
        t0 = time.perf_counter_ns()
        a = self._answer_beat
        rows = []
        for notes in results:
            new = [Note(on / G - a, off / G - a, p) for on, off, p, _ in notes]
            rows.append(row(self._call, self._answer + new))
        scores = self.critic.scores(np.stack(rows))
        if self._fit is not None:  # the call's rhythm: the second thing weighed
            done = [round(n.start * G) for n in self._answer]
            far = [self._fit.distance(done + [on - a * G for on, *_ in r]) for r in results]
            scores = scores - self.rhythm_pick * np.asarray(far)
        best = int(np.argmax(scores))
        self.stats.critic_ns.append(time.perf_counter_ns() - t0)
        self.stats.picked_other += best != 0
        return best

    def _fixed_offs(self, from_step: int) -> list[tuple[int, int]]:
        """(step, pitch) of scheduled model note-offs at or after ``from_step``."""
        out = []
        for n in self.model_notes:
            if n.on_fed and not n.off_fed:
                out.append((max(from_step, round(self.timeline.beat_at(n.t_off) * G)), n.pitch))
        return sorted(out)

    def _sample_window(
        self,
        run: _Run,
        start: int,
        beat: int,
        lookahead: int,
        commit: int,
        first_note: bool,
        enc_step: int,
        hard_end: int | None,
    ):
        """One candidate (a generator, rtgen.engine.candidates): sample from ``run``'s state
        to the end of the window from grid step ``start``; returns its notes (on, off, pitch,
        velocity) in steps."""
        end, keep_end = (beat + lookahead) * G, (beat + commit) * G
        gen = run.gen
        for tok in T.shifts_for(max(0, start - enc_step)):
            yield from self._push(run, tok)
        fixed = self._fixed_offs(gen.step)
        fixed_pitches = {p for _, p in fixed}
        open_notes: dict[int, tuple[int, int]] = {}
        notes: list[tuple[int, int, int, int]] = []  # on_step, off_step, pitch, velocity
        limit = end + self.sampler.config.max_note_steps + G
        if hard_end is not None:
            limit = min(limit, hard_end)
        velocity = T.bin_to_velocity(gen.velocity_bin) if gen.velocity_bin is not None else 80
        while gen.step < limit:
            while fixed and fixed[0][0] <= gen.step:
                _, pitch = fixed.pop(0)
                fixed_pitches.discard(pitch)
                yield from self._push(run, T.note_off(pitch))
            past_window = gen.step >= end
            if past_window and not any(on < keep_end for on, _ in open_notes.values()):
                break
            extra = self._extra_mask(
                gen, fixed, fixed_pitches, past_window, first_note and not notes and not open_notes
            )
            logits = yield from self._logits(run)
            if self.steer is not None:
                logits = self.steer.adjust(logits, gen)
            if self.harmony is not None:
                logits = self.harmony.adjust(logits, gen)
            tok = self.sampler.sample(logits, gen, extra)
            kind, arg = T.kind_of(tok)
            if kind in ("NOTE_ON", "VELOCITY") and gen.role != Role.MODEL:
                yield from self._push(run, T.role_token(Role.MODEL))
                continue  # sample again, now as the model
            yield from self._push(run, tok)
            if kind == "VELOCITY":
                velocity = T.bin_to_velocity(arg)
            elif kind == "NOTE_ON":
                open_notes[arg] = (gen.step, velocity)
            elif kind == "NOTE_OFF" and arg in open_notes:
                on, vel = open_notes.pop(arg)
                notes.append((on, gen.step, arg, vel))
        for pitch, (on, vel) in open_notes.items():  # the limit closes what is left
            notes.append((on, max(min(gen.step, limit), on + 1), pitch, vel))
        return [n for n in notes if start <= n[0] < keep_end]

    def _push(self, run: _Run, tok: int):
        """Append a speculative token: GenState now, the model when a draw needs it. The
        state where the stream reaches the end of the kept beats is kept for the next commit
        (the model is asked for it: a SNAP)."""
        gen = run.gen
        if run.resume is None and T.SHIFT_BASE <= tok < T.SHIFT_BASE + T.MAX_SHIFT:
            if gen.step < run.keep_end <= gen.step + tok - T.SHIFT_BASE + 1:
                logits, snap = yield (SNAP, run.pending)
                run.pending = []
                if logits is not None:
                    run.logits = logits
                run.resume = _Resume(len(self.committed), list(run.spec), snap, run.logits)
        gen.update(tok)
        run.spec.append(tok)
        run.pending.append(tok)

    def _logits(self, run: _Run):
        """The logits after every speculative token so far (the model is asked to feed the
        pending ones: a FEED)."""
        if run.pending:
            logits, _ = yield (FEED, run.pending)
            run.pending = []
            run.logits = logits
        return run.logits

    def _extra_mask(
        self,
        gen: GenState,
        fixed: list,
        fixed_pitches: set[int],
        past_window: bool,
        need_note: bool,
    ) -> np.ndarray:
        m = np.ones(T.VOCAB_SIZE, dtype=bool)
        for p in fixed_pitches:  # their off is fixed; no early end, no re-strike
            m[T.note_off(p)] = m[T.note_on(p)] = False
        if fixed:  # shifts land exactly on the next fixed note-off
            room = fixed[0][0] - gen.step
            m[T.SHIFT_BASE + max(room, 1) : T.SHIFT_BASE + T.MAX_SHIFT] = False
        if past_window:  # only close notes now; new ones belong to the next plan
            m[T.NOTE_ON_BASE : T.NOTE_ON_BASE + 128] = False
            m[T.VELOCITY_BASE : T.VELOCITY_BASE + T.VELOCITY_BINS] = False
        if need_note:  # an answer opens on its beat
            m[T.SHIFT_BASE : T.SHIFT_BASE + T.MAX_SHIFT] = False
            m[T.NOTE_OFF_BASE : T.NOTE_OFF_BASE + 128] = False
        return m

    def _schedule(self, notes: list[tuple[int, int, int, int]]) -> int:
        """Notes on the grid -> scheduler, sent as the call's feel moves them (if it does);
        late ones move to the next grid step or drop. The model hears its own notes as it
        planned them, on the grid: moved, it would take its own timing for a player's and
        play as the humanised data does (legato overlaps read as chords; measured)."""
        now = self.clock.now_ns()
        done = 0
        moved = self._feel_offsets(sorted({n[0] for n in notes}))
        tops: dict[int, int] = {}  # onset -> the line's note there: a grace may lead into it
        if self.ornament is not None:
            for o, _, p, _ in notes:
                tops[o] = max(tops.get(o, p), p)
        self._graces = [g for g in self._graces if g.main_t >= now]
        for on, off, pitch, vel in sorted(notes):
            grace = tops.get(on) == pitch  # and on time (below)
            if self._time(on) < now + self.guard_ns:
                grace = False
                late = on
                on = int(np.ceil(self.timeline.beat_at(now + self.guard_ns) * G))
                if on >= off:
                    self.stats.dropped += 1
                    continue
                self.stats.shifted += 1
                moved.pop(late, None)
            t_on, t_off = self._felt(on, off, pitch, moved.get(on))
            if t_on < now + self.guard_ns:  # the feel never makes a note late
                t_on, t_off = self._time(on), self._time(off)
            if grace:
                self._grace(on, t_on, pitch, vel, now)
            note_id = self.scheduler.schedule_note_id(t_on, t_off, self.channel, pitch, vel)
            if note_id is None:
                self.stats.dropped += 1
                continue
            self._sent_off[pitch] = t_off
            if self._call is not None:  # the answer so far, as the critic reads it
                a = self._answer_beat
                self._answer.append(Note(on / G - a, off / G - a, pitch))
            grid_on, grid_off = self._time(on), self._time(off)
            self.model_notes.append(
                PlannedNote(
                    grid_on, grid_off, pitch, vel, note_id=note_id, sent_on=t_on, sent_off=t_off
                )
            )
            done += 1
        self.stats.notes += done
        return done

    def _grace(self, on: int, t_main: int, pitch: int, vel: int, now: int) -> None:
        """Send a grace note into the note at grid step ``on`` (sent at ``t_main``) if the
        call's ornaments give it one (ornament.py): one grid step (at most LEAD_MS) before,
        ending as it starts; the model's note sounding then ends as it starts. Only where
        there is room, as sent: no onset of the model's within MIN_GAP_STEPS before on the
        grid, none sent within half a step before the grace, not a held chord, the pitch
        free, and not too late to send."""
        interval = self.ornament.grace(on)
        gp = pitch + (interval or 0)
        if interval is None or not 0 <= gp <= 127:
            return
        step = self._time(on) - self._time(on - 1)
        t_grace = t_main - min(step, int(LEAD_MS * 1e6))
        if t_grace < self._soonest(now) or self._sent_off.get(gp, 0) > t_grace:
            return
        before = [n for n in self.model_notes if n.t_on < self._time(on)]
        room, close = self._time(on - MIN_GAP_STEPS), t_grace - step // 2
        if any(n.t_on > room or n.sent_on > close for n in before):
            return
        sounding = [n for n in before if n.sent_off > t_grace and n.note_id is not None]
        if len(sounding) > 1:  # a chord held: grace notes are a line's
            return
        note_id = self.scheduler.schedule_note_id(
            t_grace, t_main, self.channel, gp, max(1, round(vel * SOFTER))
        )
        if note_id is None:
            return
        shortened = []
        for n in sounding:  # a line stays a line
            old = self.scheduler.end_note_by(n.note_id, t_grace)
            if old is not None:
                shortened.append((n, old))
                n.sent_off = t_grace
        self._graces.append(_Grace(self._time(on), note_id, gp, self._sent_off.get(gp), shortened))
        self._sent_off[gp] = t_main
        self.stats.graces += 1

    def _take_back_graces(self, t_ns: int) -> None:
        """Unschedule the grace notes of the notes planned at or after ``t_ns`` and undo
        what each changed: the note it ended sooner ends as planned again."""
        later = [g for g in self._graces if g.main_t >= t_ns]
        self._graces = [g for g in self._graces if g.main_t < t_ns]
        gone = self.scheduler.cancel_notes({g.note_id for g in later})
        for g in reversed(later):
            if g.note_id not in gone:
                continue  # already sounding: its note-off comes
            self.stats.graces -= 1
            if g.sent_off_before is None:
                self._sent_off.pop(g.pitch, None)
            else:
                self._sent_off[g.pitch] = g.sent_off_before
            for n, old in g.shortened:
                if self.scheduler.restore_note_end(n.note_id, old):
                    n.sent_off = old

    def _felt(self, on: int, off: int, pitch: int, d: float | None) -> tuple[int, int]:
        """(note-on, note-off) times to send a grid note at, moved by ``d`` steps (None: on
        the grid). A moved note never starts before the last of its pitch was sent to end,
        and keeps at least half a grid step."""
        if d is None:
            return self._time(on), self._time(off)
        t_on = max(self._time(on + d), self._sent_off.get(pitch, 0))
        t_off = self._time(off + self._off_offset(off, d))
        return t_on, max(t_off, t_on + (self._time(1) - self._time(0)) // 2)

    def _feel_offsets(self, onsets: list[int]) -> dict[int, float]:
        """Grid steps each of this plan's onsets moves by (feel.py): never as far as the last
        onset already scheduled, nor past the end of the plan's kept beats, where the next
        plan's onsets begin."""
        if self.feel is None or not onsets:
            return {}
        around = [self._last_on, *onsets, max(self._keep_end, onsets[-1] + 1)]
        offsets = spaced(around, [0.0, *map(self.feel.offset, onsets), 0.0])[1:-1]
        self._last_on = onsets[-1]
        return dict(zip(onsets, offsets))

    def _off_offset(self, off: int, d: float) -> float:
        """Grid steps a note-off at ``off`` moves when its note-on moved ``d``: earlier with
        it, never later, and never past where a note struck at ``off`` may move (feel.offset
        bounds that: it only shrinks there), so a line stays a line, never overlapping."""
        if self.feel is None:
            return 0.0
        return min(0.0, d, self.feel.offset(off))

    def _time(self, step: float) -> int:
        return self.timeline.time_of(step / G)

    def _soonest(self, now_ns: int) -> int:
        """The first time a message scheduled now can still be sent on time: the guard, plus
        the send thread's send-ahead (it sends that early)."""
        return now_ns + self.guard_ns + getattr(self.scheduler, "send_ahead_ns", 0)

    @property
    def committed_beat(self) -> float:
        """How far the committed stream (what the model heard) reaches, in beats."""
        return self.encoder.step / G

    def forget_plan(self) -> None:
        """The grid moved (the player's tempo): the last plan's beats are not this grid's."""
        self._last_plan = None

    # --- a chord change: the plan's rest sampled again -----------------------------------------
    def planned_past(self, t_ns: int) -> bool:
        """Whether notes are planned beyond the grid step after ``t_ns`` (a replan would
        change something)."""
        return self._last_plan is not None and self._time(self._keep_end) > t_ns + self._time(
            1
        ) - self._time(0)

    def replan_from(self, now_ns: int) -> int:
        """Plan the last plan's kept beats again from the first grid step that can still be
        scheduled: notes that start there or later are taken back (the ones sounding go on).
        Returns the number of notes scheduled."""
        if self._last_plan is None:
            return 0
        beat, lookahead, commit, first_note, end_beat = self._last_plan
        # what the send thread may already have sent is kept
        step = max(beat * G, int(np.ceil(self.timeline.beat_at(self._soonest(now_ns)) * G)))
        if step >= (beat + commit) * G:
            return 0
        self._take_back(self._time(step))
        first_note = first_note and step == beat * G  # the answer's first note not yet sent
        return self.plan(beat, lookahead, commit, first_note, end_beat, start_step=step)

    def _take_back(self, t_ns: int) -> None:
        """Unschedule the model notes planned (on the grid) at or after ``t_ns``, by their
        ids: the feel may send one a little before its grid time, and one already sent
        stays (the model knows it, and its note-off comes)."""
        self._take_back_graces(t_ns)
        later = {n.note_id for n in self.model_notes if not n.on_fed and n.t_on >= t_ns}
        gone = self.scheduler.cancel_notes(later - {None})
        pitches = {n.pitch for n in self.model_notes if n.note_id in gone}
        self.model_notes = [n for n in self.model_notes if n.note_id not in gone]
        for p in pitches:  # may sound again from t_ns, or once a kept note of it has ended
            left = [n.t_off for n in self.model_notes if n.pitch == p]
            self._sent_off[p] = max(left) if left else min(self._sent_off.get(p, 0), t_ns)
        onsets = [round(self.timeline.beat_at(n.t_on) * G) for n in self.model_notes]
        self._last_on = max(onsets, default=-(10**9))
        cut = self.timeline.beat_at(t_ns) - self._answer_beat
        self._answer = [n for n in self._answer if n.start < cut]

    # --- interruptions ---------------------------------------------------------------------
    def cut(self, t_ns: int) -> None:
        """Barge-in or clock stop: nothing of the model's sounds after ``t_ns``."""
        self._last_plan = None  # nothing to plan again (a chord change must not bring it back)
        self.scheduler.cancel_from(t_ns, self.channel)  # grace notes too: same channel
        self._graces = []
        kept = []
        for n in self.model_notes:
            if n.t_on >= t_ns and not n.on_fed:
                continue
            if n.t_off > t_ns:
                n.t_off = max(t_ns, n.t_on + 1)
            n.sent_off = min(n.sent_off, max(t_ns, n.sent_on + 1))
            kept.append(n)
        self.model_notes = kept
