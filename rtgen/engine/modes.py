"""Jam modes: when the model plays. Each decides, once per beat, whether to plan that beat.

- call-response (default): listen; after ``silence`` beats with no key down (longer than the
  longest rest inside the call, up to a bar), answer on the next beat (or bar) for as long as
  the call, rounded up to whole bars (or ``answer_bars``);
  if the player comes back in, stop within one grid step (barge-in) or finish the answer.
- continue: keep playing while the player is silent, until the player plays again.
- duet: play along every beat (on its own channel), re-planning from what the player did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rtgen.engine.listener import Listener
from rtgen.events import Note
from rtgen.tokens import GRID_STEPS_PER_BEAT as GRID

MODES = ("call-response", "continue", "duet")
STARTS = ("beat", "bar")  # an answer starts on the next beat or the next bar
BARGE_INS = ("stop", "finish")  # the player comes back in: stop the answer, or finish it
RECENT_CALLS = 2  # the rests of this many answered calls still count in the wait
# A player's call may rest up to two beats inside (a half bar) and go on: the answer waits
# for a little more than that, so it never starts in such a rest, not even the first time.
SILENCE = 2.25


@dataclass
class ModeConfig:
    mode: str = "call-response"
    silence: float = SILENCE  # beats with no key down that end a call
    answer_bars: int = 0  # 0: as long as the call, rounded up to whole bars
    start: str = "beat"  # answer on the next "beat" or the next "bar"
    min_call_beats: float = 0.25  # shorter calls (a stray touch) get no answer
    max_answer_beats: float = 32.0
    barge_in: str = "stop"  # "stop" within one grid step, or "finish" the answer
    beats_per_bar: int = 4

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.start not in STARTS:
            raise ValueError(f"start must be 'beat' or 'bar', not {self.start!r}")
        if self.barge_in not in BARGE_INS:
            raise ValueError(f"barge_in must be 'stop' or 'finish', not {self.barge_in!r}")
        if self.silence < 0 or self.max_answer_beats <= 0:
            raise ValueError("silence must be >= 0 and max_answer_beats > 0")


@dataclass
class Decision:
    plan: bool
    first_note: bool = False  # the plan opens an answer: its first note is on this beat


class Mode:
    """The per-beat decision and the reaction to the player coming in."""

    def __init__(self, cfg: ModeConfig, listener: Listener) -> None:
        self.cfg, self.listener = cfg, listener
        self.state = "listening"
        self.answer_start = 0  # beat where the current (or last) answer began
        self.answer_end = 0  # beat where the current answer ends
        self.answers = 0
        self._rests: list[float] = []  # the longest rest inside each of the last calls

    def _silent_since(self, t_b: int) -> float | None:
        """Beat of the player's last key-up if the player is silent at ``t_b``, else None."""
        lis = self.listener
        if lis.any_held or lis.last_off_ns is None:
            return None
        if lis.last_on_ns is not None and lis.last_on_ns > lis.last_off_ns:
            return None
        return lis.timeline.beat_at(lis.last_off_ns)

    def decide(self, beat: int) -> Decision:
        mode = self.cfg.mode
        if mode == "duet":
            self.state = "playing"
            return Decision(True)
        t_b = self.listener.timeline.time_of(beat)
        last_off = self._silent_since(t_b)
        if mode == "continue":
            playing = last_off is not None and last_off + self.cfg.silence <= beat + 1e-9
            self.state = "playing" if playing else "listening"
            return Decision(playing)
        if self.state == "answering":
            if beat < self.answer_end:
                return Decision(True)
            self.state = "listening"
        return self._maybe_answer(beat, last_off)

    def _maybe_answer(self, beat: int, last_off: float | None) -> Decision:
        lis, cfg = self.listener, self.cfg
        if last_off is None or lis.call_start_ns is None:
            return Decision(False)
        call_start = lis.timeline.beat_at(lis.call_start_ns)
        call_len = last_off - call_start
        if call_len < cfg.min_call_beats:
            return Decision(False)
        rest = longest_rest(lis.notes, call_start)
        start = math.ceil(last_off + self._wait(rest) - 1e-9)
        if cfg.start == "bar":
            start = math.ceil(start / cfg.beats_per_bar) * cfg.beats_per_bar
        if beat < start:
            return Decision(False)
        bar = cfg.beats_per_bar
        length = (
            cfg.answer_bars * bar if cfg.answer_bars else math.ceil(call_len / bar - 1e-9) * bar
        )
        self.answer_start = beat
        self.answer_end = beat + int(min(max(length, bar), cfg.max_answer_beats))
        self.state = "answering"
        self.answers += 1
        self._rests = [*self._rests, rest][-RECENT_CALLS:]
        lis.start_new_call()  # what the player plays from now on is the next call
        return Decision(True, first_note=True)

    def _wait(self, rest: float) -> float:
        """Beats of silence that end the call: ``silence``, or one grid step more than the
        longest rest heard inside this call or the last RECENT_CALLS calls, but never more
        than a bar. So a call with rests is not interrupted in one of them once the player
        was heard to rest that long (a call the model answered in a rest goes on: the
        engine keeps its start, and the rest is inside it)."""
        rest = max(rest, *self._rests) if self._rests else rest
        if rest <= 0:
            return self.cfg.silence
        return max(self.cfg.silence, min(rest + 1 / GRID, self.cfg.beats_per_bar))

    def set_mode(self, mode: str) -> None:
        """Switch modes mid-jam (a CC); the state carries over and the next beat decides."""
        self.cfg.mode = mode

    def on_player_note(self) -> bool:
        """The player struck a key. Returns True when the model must stop now (barge-in)."""
        if self.cfg.mode == "continue" and self.state == "playing":
            self.state = "listening"
            return True
        if self.cfg.mode == "call-response" and self.state == "answering":
            if self.cfg.barge_in == "stop":
                self.state = "listening"
                return True
        return False


def longest_rest(notes: list[Note], since: float) -> float:
    """The longest silence (beats) between the notes that started at or after ``since``
    (``notes`` in the order they finished, as the listener keeps them); 0 if none."""
    call = []
    for n in reversed(notes):
        if n.end < since:
            break  # finished before the call began: so did every note before it
        if n.start >= since - 1e-9:
            call.append(n)
    call.sort(key=lambda n: n.start)
    rest, reach = 0.0, None
    for n in call:
        if reach is not None and n.start > reach:
            rest = max(rest, n.start - reach)
        reach = n.end if reach is None else max(reach, n.end)
    return rest
