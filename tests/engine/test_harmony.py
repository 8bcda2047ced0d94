"""Harmonic steering (rtgen/engine/harmony.py): what is harmony, how the held chord is read
as a hand plays it, the bias it puts on the model's pitches, and the engine on the fake
clock: a held chord is never a call nor a lost note-off, answers keep to it, and a chord
change mid-answer is followed from the next grid step."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config
from rtgen.engine.chords import read_chord
from rtgen.engine.harmony import (
    ARRIVAL,
    HarmonyBias,
    HarmonyRoute,
    HeldChord,
    parse_chords,
    parse_split,
)
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import GenState
from rtgen.errors import RtgenError
from tests.engine.fakes import FakeSession

G = T.GRID_STEPS_PER_BEAT
MS = 1_000_000
ON = slice(T.NOTE_ON_BASE, T.NOTE_ON_BASE + 128)


def test_harmony_on_the_main_input_goes_with_it() -> None:
    """A split or a chord channel puts harmony keys on the main input (lost with it); a
    chord port alone does not."""
    assert HarmonyRoute(split=60).on_main_input and HarmonyRoute(channel=1).on_main_input
    assert not HarmonyRoute().on_main_input  # --chords PORT: the keys are the port's


def test_below_the_split_notes_are_harmony_and_the_rest_is_not() -> None:
    route = HarmonyRoute(split=60)
    assert route.is_harmony((0x90, 59, 80)) and route.is_harmony((0x80, 48, 0))
    assert not route.is_harmony((0x90, 60, 80))  # the split note itself plays the call
    assert not route.is_harmony((0xB0, 64, 127))  # the pedal is the melody's
    assert not route.is_harmony((0xF8,))
    by_channel = HarmonyRoute(channel=1)
    assert by_channel.is_harmony((0x91, 72, 80)) and not by_channel.is_harmony((0x90, 40, 80))
    assert HarmonyRoute().is_harmony((0x90, 72, 80), from_chords_port=True)


def test_split_and_chords_settings_parse_and_refuse_in_one_line() -> None:
    assert parse_split("C4") == 60 and parse_split("F#3") == 54 and parse_split("48") == 48
    assert parse_split("none") is None and parse_split("") is None
    assert parse_chords("channel:2") == ("channel", 1) and parse_chords("Chord Track") == (
        "port",
        None,
    )
    with pytest.raises(RtgenError, match="--split must be a note like C4"):
        PlaySettings(split="H4").validate()
    with pytest.raises(RtgenError, match="--chords channel:N needs N in 1..16"):
        PlaySettings(chords="channel:17").validate()


def test_a_struck_chord_is_read_and_kept_after_it_is_let_go() -> None:
    """Comping: the chord struck, let go a beat later; the harmony goes on until the next."""
    held = HeldChord()
    changed = [held.feed((0x90, p, 70), t * MS) for t, p in ((0, 50), (3, 53), (6, 57), (8, 60))]
    assert changed[-1] and held.chord.name == "Dm7"
    for p in (50, 53, 57, 60):
        assert not held.feed((0x80, p, 0), 500 * MS)
    assert held.chord.name == "Dm7" and not held.keys


def test_a_legato_change_reads_the_new_chord_before_the_old_is_let_go() -> None:
    held = HeldChord()
    for p in (48, 52, 55):  # C, held
        held.feed((0x90, p, 70), 0)
    for p in (41, 45, 48):  # F struck while C is still down (C3 is common: held on)
        held.feed((0x90, p, 70), 1000 * MS)
    assert held.chord.name == "F"
    for p in (52, 55):  # the old chord let go 30 ms later: still F
        held.feed((0x80, p, 0), 1030 * MS)
    assert held.chord.name == "F"


def test_one_key_added_to_a_held_chord_is_read_with_it() -> None:
    held = HeldChord()
    for p in (48, 52, 55):
        held.feed((0x90, p, 70), 0)
    assert held.feed((0x90, 58, 70), 700 * MS) and held.chord.name == "C7"


def test_letting_every_key_go_at_once_keeps_the_chord() -> None:
    """A chord port lost (or all notes off) just after a change: the keys go at once, the
    chord stays. Key-ups one at a time within the legato window would read C7 down to
    Bb5 (C, E, G let go, then only G and Bb are left) and keep that."""
    held = HeldChord()
    for p in (48, 52, 55, 58):
        held.feed((0x90, p, 70), 0)
    assert held.chord.name == "C7"
    held.let_go()
    assert held.chord.name == "C7" and not held.keys
    one_at_a_time = HeldChord()
    for p in (48, 52, 55, 58):
        one_at_a_time.feed((0x90, p, 70), 0)
    for p in (48, 52):  # the way key-ups would have done it, 150 ms after the change
        one_at_a_time.feed((0x80, p, 0), 150 * MS)
    assert one_at_a_time.chord.name != "C7"  # why let_go exists


def _logsumexp(x: np.ndarray) -> float:
    m = x.max()
    return float(m + np.log(np.exp(x - m).sum()))


def test_the_bias_moves_pitches_toward_the_chord_and_keeps_the_note_ons_total() -> None:
    """On the beat a tone outside the chord loses the strength, off the beat a quarter of it;
    the NOTE_ONs together keep the model's total (whether to play stays the model's); the
    first note after a change loses twice the strength."""
    bias = HarmonyBias(4.0)
    z = np.random.default_rng(0).normal(0, 1, T.VOCAB_SIZE)
    gen = GenState(step=5 * G)
    assert bias.adjust(z, gen) is z  # no chord held yet: untouched
    bias.set_chord(read_chord([48, 52, 55]), step=0)
    gen.steps_since_on = 2  # a note since the change
    on_beat = bias.adjust(z, gen)
    assert on_beat is not z and np.allclose(on_beat[: T.NOTE_ON_BASE], z[: T.NOTE_ON_BASE])
    assert _logsumexp(on_beat[ON]) == pytest.approx(_logsumexp(z[ON]))
    d = on_beat[ON] - z[ON]
    assert d[64] - d[65] == pytest.approx(4.0)  # E (in C) over F
    assert d[60] == pytest.approx(d[67])  # chord tones alike
    off_beat = bias.adjust(z, GenState(step=5 * G + 1, steps_since_on=1))
    d = off_beat[ON] - z[ON]
    assert d[64] - d[65] == pytest.approx(1.0)
    arriving = bias.adjust(z, GenState(step=5 * G + 1, steps_since_on=100))
    d = arriving[ON] - z[ON]
    assert d[64] - d[65] == pytest.approx(4.0 * ARRIVAL)


class BusySession(FakeSession):
    """A fake model that plays short notes one after another (a note every step or two)."""

    def step(self, token: int) -> np.ndarray:
        logits = super().step(token)
        logits[T.NOTE_ON_BASE : T.NOTE_ON_BASE + 128] += 3.0
        logits[T.NOTE_OFF_BASE : T.NOTE_OFF_BASE + 128] += 4.0
        return logits


def _rig(
    split: str = "C4", strength: float = 4.0, seed: int = 0, session=FakeSession, **more
) -> OfflineRig:
    settings = PlaySettings(seed=seed, split=split, harmony=strength, silence=1.0, **more)
    settings.validate()
    return OfflineRig(engine_config(settings, seed), session(seed), bpm=120.0)


def _chord(rig: OfflineRig, pitches: list[int], start: float, end: float) -> list:
    b = rig.beats_to_ns
    return [(b(start), (0x90, p, 70)) for p in pitches] + [(b(end), (0x80, p, 0)) for p in pitches]


def _call(rig: OfflineRig, start: float, pitches: list[int]) -> list:
    b = rig.beats_to_ns
    out = []
    for i, p in enumerate(pitches):
        out += [(b(start + i), (0x90, p, 90)), (b(start + i + 0.9), (0x80, p, 0))]
    return out


def _model_notes(rig: OfflineRig) -> list[tuple[float, float, int]]:
    """(onset beat, end beat, pitch) of what the model sent."""
    open_, notes = {}, []
    for t, m in rig.port.sent:
        if m[0] & 0xF0 == 0x90 and m[2]:
            open_[m[1]] = t
        elif m[0] & 0xF0 in (0x80, 0x90) and m[1] in open_:
            t0 = open_.pop(m[1])
            notes.append((rig.timeline.beat_at(t0), rig.timeline.beat_at(t), m[1]))
    return sorted(notes)


def test_a_chord_held_for_bars_is_never_a_call_nor_a_lost_note_off() -> None:
    """Eight bars of one chord below the split: nothing answered, no key released as lost,
    the melody side hears nothing."""
    rig = _rig()
    rig.run(_chord(rig, [36, 52, 55, 58], 1.0, 33.0), rig.beats_to_ns(40))
    stats = rig.engine.stats()
    assert stats.answers == 0 and stats.notes == 0 and stats.stuck_keys == 0
    assert rig.engine.player_notes() == [] and rig.engine.chord_name() == "C7"


def test_answers_keep_to_the_held_chord_and_leave_nothing_sounding() -> None:
    """A call over a held C7: with steering the answer's notes on the beats are chord tones
    far more often than without (the fake model's pitches are random)."""
    ratios = {}
    for strength in (0.0, 4.0):
        on_beat = fits = 0
        for seed in range(3):
            rig = _rig(strength=strength, seed=seed)
            inputs = _chord(rig, [36, 52, 55, 58], 1.0, 24.0) + _call(rig, 2.0, [64, 67, 70, 72])
            rig.run(inputs, rig.beats_to_ns(24))
            rig.stop()
            assert rig.engine.stats().answers >= 1 and len(rig.ledger) == 0
            for start, _, pitch in _model_notes(rig):
                if round(start * G) % G == 0:
                    on_beat += 1
                    fits += pitch % 12 in {0, 4, 7, 10}
        ratios[strength] = fits / on_beat
    assert ratios[4.0] >= 0.8 and ratios[4.0] > ratios[0.0] + 0.3, ratios


def test_a_chord_change_mid_answer_is_followed_from_the_next_grid_step() -> None:
    """C under the call; D-flat (no tone in common) struck 70 ms before a beat of the
    answer, after that beat was planned (80 ms ahead): the beat is planned again, and the
    first note one grid step or more after the change is a tone of D-flat (the strongest
    steering makes it certain; without the replan it is a tone of C)."""
    firsts = []
    for seed in range(6):
        rig = _rig(
            strength=20.0, seed=seed, session=BusySession, answer_bars=2, max_note_beats=0.25
        )
        change = 8.0 - 0.14  # 70 ms before beat 8, which was planned at 7.84
        inputs = _chord(rig, [36, 52, 55], 1.0, change + 0.05)
        inputs += _chord(rig, [37, 53, 56], change, 20.0) + _call(rig, 2.0, [64, 67, 71, 72])
        rig.run(inputs, rig.beats_to_ns(20))
        rig.stop()
        assert len(rig.ledger) == 0
        later = [n for n in _model_notes(rig) if n[0] >= change + 1 / G]
        assert later, seed
        firsts.append(later[0])
        assert later[0][2] % 12 in {1, 5, 8}, (seed, later[0])  # D-flat, F, A-flat
    assert sum(start < 8.5 for start, _, _ in firsts) >= 3  # most within half a beat


def test_a_chord_change_after_a_barge_in_does_not_bring_the_answer_back() -> None:
    """The player comes back in during the answer (right hand first), then changes chord
    with the left a moment later: nothing is planned again (a replan of the cut answer's
    beat would put model notes over the new call), and the cut plan cannot be replanned."""
    rig = _rig(strength=4.0, seed=0, session=BusySession, max_note_beats=0.25)
    inputs = _chord(rig, [36, 52, 55], 1.0, 9.1) + _call(rig, 2.0, [64, 67, 71, 72])
    rig.run(inputs, rig.beats_to_ns(7.3))  # the answer began on beat 7
    assert rig.engine.mode.state == "answering"
    b = rig.beats_to_ns
    rig.run([(b(7.31), (0x90, 74, 90))], b(7.32))  # the barge-in
    assert rig.engine.stats().barge_ins == 1 and rig.engine.mode.state == "listening"
    rig.run([(b(7.33) + i, (0x90, p, 70)) for i, p in enumerate((41, 53, 57))], b(7.5))
    assert rig.engine.chord_name() == "F"  # the chord was read ...
    assert rig.engine.wake_ns is None  # ... and nothing is to be planned again
    assert (
        not rig.engine.planner.planned_past(b(7.5)) and rig.engine.planner.replan_from(b(7.5)) == 0
    )
