"""The live input gate: what the player's port delivers, judged before the engine hears it."""

from __future__ import annotations

import pytest

from rtgen.config import PlaySettings
from rtgen.inputgate import (
    ACTION,
    CLOCK,
    ECHO,
    GATED,
    MALFORMED,
    NOTE_BUDGET,
    PLAY,
    SYSTEM,
    InputGate,
    action_calls,
)
from rtgen.io.guarded import SentLog
from rtgen.jamstats import JamStats

MS = 1_000_000


def _gate(**settings: object) -> tuple[InputGate, JamStats, SentLog]:
    stats, sent = JamStats(), SentLog()
    gate = InputGate(sent, stats, PlaySettings(**settings).validate(), lambda: None)
    return gate, stats, sent


@pytest.mark.parametrize("data", range(0x80, 0x100))
def test_a_data_byte_of_0x80_or_more_is_malformed_and_counted(data: int) -> None:
    """The input refuses what the scheduler refuses (rtgen.midi's one rule)."""
    gate, stats, _ = _gate()
    assert gate.judge((0x90, 60, data), 0) == MALFORMED
    assert gate.judge((0x90, data, 64), 0) == MALFORMED
    assert stats.ignored == 2 and stats.msgs_in == 2 and stats.notes_in == 0


def test_verdicts() -> None:
    """Clock messages go to a followed clock only; other system messages are kept out; a CC
    with an action is an action; a note is played and counted."""
    gate, stats, _ = _gate(cc={"panic": 20})
    assert gate.judge((0xF8,), 0) == SYSTEM
    assert _gate(clock="external")[0].judge((0xF8,), 0) == CLOCK
    assert gate.judge((0xB0, 20, 127), 0) == ACTION and gate.actions[20] == "panic"
    assert gate.judge((0xB0, 21, 127), 0) == PLAY
    assert gate.judge((0x91, 60, 90), 0) == PLAY and stats.notes_in == 1


def test_our_own_output_coming_back_is_an_echo() -> None:
    """Within 30 ms of its send, a message rtgen sent (a note-off also as velocity 0) is an
    echo; a synthetic key-up rtgen made itself never is."""
    gate, stats, sent = _gate()
    sent.add(100 * MS, (0x80, 60, 0))
    assert gate.judge((0x90, 60, 0), 110 * MS) == ECHO
    assert gate.judge((0x90, 60, 0), 110 * MS, synthetic=True) == PLAY
    assert gate.judge((0x80, 60, 0), 200 * MS) == PLAY
    assert stats.echoes == 1 and stats.msgs_in == 2


def test_notes_past_the_budget_are_gated_with_their_note_offs() -> None:
    """A burst gets twice the budget; the next note-on (and its note-off) is gated."""
    gate, stats, _ = _gate()
    for pitch in range(2 * NOTE_BUDGET):
        assert gate.judge((0x90, pitch, 90), 0) == PLAY
    assert gate.judge((0x90, 100, 90), 0) == GATED
    assert gate.judge((0x80, 100, 0), 0) == GATED
    assert gate.judge((0x80, 0, 0), 0) == PLAY  # a played note's key-up is heard
    assert stats.gated == 2


def test_key_ups_for_a_lost_keyboard_use_each_key_s_channel() -> None:
    """Each held (channel, pitch) key gets its key-up on its channel; the pedal is lifted
    on the input channel."""
    gate, _, _ = _gate(in_channel=3)
    ups = gate.key_ups([(5, 60), (2, 62), (7, 60)], True)
    assert ups == [(0x85, 60, 0), (0x82, 62, 0), (0x87, 60, 0), (0xB2, 64, 0)]


def test_cc_actions_become_engine_calls() -> None:
    """Panic and end-of-call act on a press (>= 64); temperature and mode follow the knob."""
    assert action_calls("panic", 127, 5) == [{"k": "cut", "t": 5}, {"k": "panic"}]
    assert action_calls("panic", 10, 5) == [] and action_calls("end_call", 0, 5) == []
    assert action_calls("end_call", 64, 5) == [{"k": "endcall"}]
    assert action_calls("temperature", 127, 5) == [{"k": "temp", "v": 2.0}]
    assert action_calls("mode", 127, 5) == [{"k": "mode", "v": "duet"}]
