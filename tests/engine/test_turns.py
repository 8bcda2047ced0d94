"""Turn-taking on the fake clock: a call with rests inside is not interrupted once the player
was heard to rest that long, and an answer cut short by the call going on leaves it one call;
duet mode is steered by the player's manner as call-response is."""

from __future__ import annotations

from rtgen.engine.bias import Strengths
from rtgen.engine.engine import EngineConfig
from rtgen.engine.modes import ModeConfig, longest_rest
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from rtgen.engine.steer import SteerConfig
from rtgen.events import Note
from tests.engine.fakes import FakeSession


def _rig() -> OfflineRig:
    cfg = EngineConfig(ModeConfig(), SamplerConfig(seed=0, low=48, high=84, max_note_beats=2.0))
    return OfflineRig(cfg, FakeSession(0), bpm=120.0)


def _phrases(rig: OfflineRig, starts: list[float], pitch: int = 60) -> list:
    """Two quarter notes (0.9 beats long) from each start: a phrase, then a rest."""
    b = rig.beats_to_ns
    out = []
    for s in starts:
        for i in range(2):
            out += [(b(s + i), (0x90, pitch + i, 90)), (b(s + i + 0.9), (0x80, pitch + i, 0))]
    return out


def _model_ons(rig: OfflineRig) -> list[float]:
    return [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]


def test_longest_rest_counts_the_silences_inside_the_call_only() -> None:
    """Silences between notes that started since the call began; overlaps are no rest."""
    notes = [Note(0, 1, 60), Note(3, 4, 62), Note(4.5, 6, 64), Note(5, 5.5, 67), Note(7, 8, 65)]
    assert longest_rest(notes, 0.0) == 2.0
    assert longest_rest(notes, 3.0) == 1.0  # the first rest is before this call
    assert longest_rest(notes, 7.0) == 0.0 and longest_rest([], 0.0) == 0.0


def test_a_call_goes_on_after_an_interrupted_rest_and_is_not_interrupted_again() -> None:
    """Phrases at beats 4, 9.5 and 15 with rests of 3.6 beats: the engine, not knowing the
    player yet, answers in the first rest (5.9 + 2.25, the next beat: 9) and is barged in on
    at 9.5; the call goes on, so its second rest (11.4 to 15) is not interrupted, and the one
    answer after the call waits for more than 3.6 beats of silence: beat 21 (16.9 + 3.68)."""
    rig = _rig()
    rig.run(_phrases(rig, [4, 9.5, 15]), rig.beats_to_ns(32))
    ons = _model_ons(rig)
    assert ons and min(ons) == 9.0
    assert not [t for t in ons if 9.5 <= t < 21.0]
    assert min(t for t in ons if t >= 9.5) == 21.0
    assert rig.engine.stats().answers == 2 and rig.engine.stats().barge_ins == 1


def test_no_answer_starts_while_a_call_with_rests_of_up_to_two_beats_goes_on() -> None:
    """The first call of a jam, with rests of 2.0 and 1.7 beats inside, is not interrupted:
    play's default silence (2.25 beats) is longer than any rest of up to two beats. It is
    answered after it ends (13.4 + 2.25, the next beat: 16)."""
    rig = _rig()
    rig.run(_phrases(rig, [4, 7.9, 11.5]), rig.beats_to_ns(30))
    ons = _model_ons(rig)
    assert not [t for t in ons if t < 13.4]
    assert ons and min(ons) == 16.0
    assert rig.engine.stats().answers == 1 and rig.engine.stats().barge_ins == 0


def test_a_player_heard_resting_longer_is_not_interrupted_in_such_a_rest() -> None:
    """Once the player was heard to rest 3.1 beats inside a call, their next call, with
    rests of up to 3.1 beats, is not interrupted: no model note from its first note to its
    last (a wait of over three beats is still less than a bar)."""
    rig = _rig()
    first = _phrases(rig, [4, 9])  # interrupted once at beat 9 (5.9 + 2.25), answered from 15
    second = _phrases(rig, [32, 35.5, 39.9], pitch=64)  # rests of 1.6 and 2.5 beats
    rig.run(first + second, rig.beats_to_ns(52))
    ons = _model_ons(rig)
    assert [t for t in ons if 9.0 <= t < 32.0]  # the first call was answered
    assert not [t for t in ons if 32.0 <= t < 41.8]  # nothing while the second goes on
    assert min(t for t in ons if t >= 32.0) == 45.0  # 41.8 + 3.18, the next beat


def _model_polyphony(rig: OfflineRig) -> float:
    """Share of model note-ons struck while another model note sounds."""
    sounding: set[int] = set()
    struck = over = 0
    for _, m in rig.port.sent:
        if m[0] & 0xF0 == 0x90 and m[2]:
            struck += 1
            over += bool(sounding)
            sounding.add(m[1])
        elif m[0] & 0xF0 in (0x80, 0x90):
            sounding.discard(m[1])
    return over / max(struck, 1)


def test_duet_is_steered_by_the_players_manner_too() -> None:
    """In duet mode a single-line player gets a (nearly) single line: the fake model's
    random chords mostly go when the texture is steered; the memory learns as it plays."""
    polyphony = []
    for steer in (None, SteerConfig(Strengths(texture=8.0))):
        cfg = EngineConfig(
            ModeConfig(mode="duet"),
            SamplerConfig(seed=0, low=48, high=84, max_note_beats=2.0),
            steer=steer,
        )
        rig = OfflineRig(cfg, FakeSession(0), bpm=120.0)
        rig.run(_phrases(rig, [1, 3, 5, 7, 9, 11, 13, 15]), rig.beats_to_ns(24))
        polyphony.append(_model_polyphony(rig))
    assert polyphony[0] > 0.5 and polyphony[1] < polyphony[0] / 4, polyphony
    assert rig.engine.stats().memory_notes >= 8  # and it learned the player's phrases
