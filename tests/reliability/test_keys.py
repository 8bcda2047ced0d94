"""Keys are (channel, pitch) (issue 17, point 5): the same pitch held on two channels is two
keys; the call goes on until both are up."""

from __future__ import annotations

from rtgen.engine.engine import EngineConfig
from rtgen.engine.listener import Listener
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from tests.engine.fakes import FakeSession


def test_a_pitch_held_on_a_second_channel_keeps_the_call_open() -> None:
    """Pitch 64 down on channels 1 and 2; channel 1 lets go at beat 8, channel 2 at 14: no
    model note until 14 + the silence (1 beat here), then the answer."""
    cfg = EngineConfig(ModeConfig(silence=1.0), SamplerConfig(seed=0, low=48, high=84))
    rig = OfflineRig(cfg, FakeSession(0), bpm=120.0)
    b = rig.beats_to_ns
    inputs = [
        (b(4), (0x90, 60, 90)), (b(4.9), (0x80, 60, 0)),
        (b(5), (0x90, 64, 90)), (b(5.1), (0x91, 64, 90)),
        (b(8), (0x80, 64, 0)), (b(14), (0x81, 64, 0)),
    ]  # fmt: skip
    rig.run(inputs, b(30))
    ons = [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]
    assert ons and min(ons) == 15.0, ons


def test_the_second_key_down_restrikes_the_pitch_and_the_last_key_up_ends_it() -> None:
    lis = Listener(OfflineRig(
        EngineConfig(ModeConfig(), SamplerConfig(seed=0)), FakeSession(0), bpm=120.0
    ).timeline)  # fmt: skip
    events = lis.feed((0x90, 64, 90), 0) + lis.feed((0x91, 64, 80), 10)
    assert [(e.pitch, e.velocity > 0) for e in events] == [(64, True), (64, False), (64, True)]
    assert lis.feed((0x80, 64, 0), 20) == [] and lis.any_held  # channel 2 still holds it
    assert [e.velocity for e in lis.feed((0x81, 64, 0), 30)] == [0] and not lis.any_held
    assert len(lis.notes) == 2  # the re-strike ended the first; the last key-up the second


def _rig() -> OfflineRig:
    cfg = EngineConfig(ModeConfig(silence=1.0), SamplerConfig(seed=0, low=48, high=84))
    return OfflineRig(cfg, FakeSession(0), bpm=120.0)


def _line(rig: OfflineRig, start: float, pitches: list[int]) -> list:
    b = rig.beats_to_ns
    out = []
    for i, p in enumerate(pitches):
        out += [(b(start + i), (0x90, p, 90)), (b(start + i + 0.9), (0x80, p, 0))]
    return out


def test_a_note_off_lost_inside_a_line_is_released_after_six_more_notes() -> None:
    """A line whose second note (62) never sends its note-off: the player goes on; once six
    notes around it were played (the sixth ends at 11.9), the key is released at the next
    beat's check and the call ends there (the outside run: held open 13 beats, then 19 beats
    of answer)."""
    rig = _rig()
    b = rig.beats_to_ns
    inputs = (
        _line(rig, 4, [60]) + [(b(5), (0x90, 62, 90))] + _line(rig, 6, [64, 65, 67, 65, 64, 60])
    )
    rig.run(inputs, b(30))
    lis = rig.engine.listener
    assert lis.stuck_released == 1 and not lis.any_held
    ons = [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]
    assert ons and min(ons) == 14.0, ons  # released at 12 + 1 beat of silence, next beat


def test_a_bass_or_a_chord_held_on_purpose_is_never_released() -> None:
    """A bass note (36) held for 24 beats under a melody two octaves up, and a chord held for
    six bars with nothing else played: neither is released."""
    rig = _rig()
    b = rig.beats_to_ns
    melody = [72, 74, 76, 77, 79, 77, 76, 74] * 2 + [72, 74, 76, 77]
    inputs = [(b(4), (0x90, 36, 90))] + _line(rig, 4, melody) + [(b(28), (0x80, 36, 0))]
    rig.run(inputs, b(30))
    assert rig.engine.listener.stuck_released == 0
    rig = _rig()
    chord = [(b(4), (0x90, p, 90)) for p in (60, 64, 67)]
    rig.run(chord + [(b(28), (0x80, p, 0)) for p in (60, 64, 67)], b(29))
    assert rig.engine.listener.stuck_released == 0
    ons = [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]
    assert not [t for t in ons if t < 28.0]  # no answer while the chord is held
