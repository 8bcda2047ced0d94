"""What the player's port delivers, judged before the engine hears it.

Whatever comes down the cable is checked first (:func:`rtgen.midi.well_formed`): running
status, stray data bytes, undefined statuses, SysEx and truncated messages are counted and
ignored. rtgen's own output coming back in (a loop in the routing) is recognised from the
:class:`rtgen.io.guarded.SentLog` and never answered. Notes past a budget of NOTE_BUDGET
note-ons a beat are kept from the model. :meth:`InputGate.judge` says which of these a
message is; the live loop acts on the verdict (and logs it with ``--log``).
"""

from __future__ import annotations

from collections.abc import Callable

from rtgen.config import PlaySettings
from rtgen.engine.modes import MODES
from rtgen.io.guarded import SentLog
from rtgen.jamstats import JamStats
from rtgen.midi import (
    CC_SUSTAIN,
    CLOCK_STATUSES,
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    SYSEX,
    Message,
    control_change,
    is_note_on,
    kind_of,
    note_off,
    well_formed,
)

NOTE_BUDGET = 12  # note-ons a beat the model hears at most (the grid has 12 steps a beat)

# Verdicts of InputGate.judge. The engine hears PLAY; CLOCK goes to the clock follower and
# ACTION is a CC's action; the rest are kept from the engine, and are the "why" of the
# session log's "x" record for them.
PLAY, CLOCK, ACTION = "play", "clock", "action"
MALFORMED, SYSTEM, ECHO, GATED = "malformed", "system", "echo", "gated"


class InputGate:
    """Judges each input message; counts what it keeps from the engine in ``stats``."""

    def __init__(
        self,
        sent: SentLog,
        stats: JamStats,
        settings: PlaySettings,
        bpm: Callable[[], float | None],
    ) -> None:
        self.sent, self.stats = sent, stats
        self.actions = {number: action for action, number in settings.cc.items()}
        self.follows_clock = settings.clock == "external"  # clock messages: for the follower
        self._bpm = lambda: bpm() or settings.bpm  # the tempo now, for the note budget
        channel = settings.in_channel
        self._channel = channel - 1 if channel else 0  # for key-ups of keys it never saw
        self._gated: set[tuple[int, int]] = set()  # (channel, pitch) of gated notes
        self._budget, self._budget_ns = 2.0 * NOTE_BUDGET, 0

    def judge(self, msg: Message, t_ns: int, synthetic: bool = False) -> str:
        """What ``msg`` (arrived at ``t_ns``) is: PLAY for the engine, CLOCK for the clock
        follower, ACTION for a CC with an action (``actions[msg[1]]``), or why it is kept
        from the engine. ``synthetic``: a key-up rtgen made itself (not counted as input,
        never an echo)."""
        if not synthetic:
            self.stats.msgs_in += 1
        if not well_formed(msg):
            self.stats.ignored += 1
            return MALFORMED
        status, kind = msg[0], kind_of(msg[0])
        if status in CLOCK_STATUSES and self.follows_clock:
            return CLOCK
        if status >= SYSEX:
            return SYSTEM
        if not synthetic and self.sent.is_echo(msg, t_ns):
            self.stats.echoes += 1
            return ECHO  # our own output came back: never answer
        if kind == CONTROL_CHANGE and msg[1] in self.actions:
            return ACTION
        if kind in (NOTE_OFF, NOTE_ON) and self._over_budget(msg, t_ns):
            self.stats.gated += 1
            return GATED
        if is_note_on(msg):
            self.stats.notes_in += 1
        return PLAY

    def _over_budget(self, msg: Message, t_ns: int) -> bool:
        """True for a note the model must not hear: past a budget of NOTE_BUDGET note-ons a
        beat (bursts up to twice that). The planner already keeps the token stream from
        passing the clock (Planner.commit merges surplus notes); this bounds the model's
        work, as every note costs it two or three steps. The note-off of a gated note is
        gated too."""
        key = (msg[0] & 0x0F, msg[1])
        if not is_note_on(msg):
            if key in self._gated:
                self._gated.discard(key)
                return True
            return False
        per_ns = NOTE_BUDGET * self._bpm() / 60e9  # wall time: the budget refills while an
        gap = max(0, t_ns - self._budget_ns)  # external clock stops
        self._budget, self._budget_ns = min(2 * NOTE_BUDGET, self._budget + gap * per_ns), t_ns
        if self._budget >= 1:
            self._budget -= 1
            self._gated.discard(key)
            return False
        self._gated.add(key)
        return True

    def key_ups(self, keys: list[tuple[int, int]], pedal: bool) -> list[Message]:
        """Key-ups for the (channel, pitch) keys a lost keyboard was holding (and the pedal,
        on the input channel), to be handled as if played."""
        ups = [note_off(ch, pitch) for ch, pitch in keys]
        if pedal:
            ups.append(control_change(self._channel, CC_SUSTAIN, 0))
        return ups


def action_calls(action: str, value: int, t_rel: int) -> list[dict]:
    """The engine calls (session-log records) a CC action asks for with ``value``; the
    controller moved at ``t_rel`` (ns from the origin)."""
    if action == "panic" and value >= 64:
        return [{"k": "cut", "t": t_rel}, {"k": "panic"}]
    if action == "end_call" and value >= 64:
        return [{"k": "endcall"}]  # the call is over: answer after silence
    if action == "reset_memory" and value >= 64:
        return [{"k": "memreset"}]  # forget the player's phrases
    if action == "temperature":
        return [{"k": "temp", "v": max(0.05, 2.0 * value / 127)}]
    if action == "tap" and value >= 64:
        return [{"k": "tap", "t": t_rel}]  # tap tempo: a beat now
    if action == "mode":
        return [{"k": "mode", "v": MODES[min(2, value * 3 // 128)]}]
    return []
