"""The engine on a fake clock: call and response timing, barge-in, no hanging notes, late plans."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.engine import EngineConfig
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from tests.engine.fakes import FakeSession

BPM = 120.0


def _rig(mode: str = "call-response", seed: int = 0, **mode_kw) -> OfflineRig:
    cfg = EngineConfig(
        ModeConfig(mode=mode, **mode_kw),
        SamplerConfig(seed=seed, low=48, high=84, max_note_beats=2.0),
    )
    return OfflineRig(cfg, FakeSession(seed), bpm=BPM)


def _call(rig: OfflineRig, start: float, pitches: list[int], length: float = 0.9) -> list:
    b = rig.beats_to_ns
    out = []
    for i, p in enumerate(pitches):
        out += [(b(start + i), (0x90, p, 90)), (b(start + i + length), (0x80, p, 0))]
    return out


def _model_ons(rig: OfflineRig) -> list[float]:
    return [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]


def _sounding_after(sent: list) -> int:
    """Notes left sounding, counted by note-on/note-off pairs per (channel, pitch)."""
    count: Counter = Counter()
    for _, m in sent:
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            count[(m[0] & 15, m[1])] += 1
        elif m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0):
            if count[(m[0] & 15, m[1])] > 0:
                count[(m[0] & 15, m[1])] -= 1
    return sum(count.values())


def test_two_bar_call_is_answered_on_the_first_beat_after_the_silence() -> None:
    """A two-bar call ending at beat 11.9 is answered from beat 15 (the default silence of
    2.25 beats, then the next beat), for 8 beats."""
    rig = _rig()
    rig.run(_call(rig, 4, [60, 62, 64, 65, 67, 65, 64, 62]), rig.beats_to_ns(28))
    ons = _model_ons(rig)
    assert ons and min(ons) == 15.0  # first grid beat at or after 11.9 + 2.25
    offs = [rig.timeline.beat_at(t) for t, m in rig.port.sent if m[0] & 0xF0 == 0x80]
    assert 7.0 <= max(offs) - min(ons) <= 9.0  # the call's length (7.9 beats, 2 bars) +-1


def test_no_answer_while_a_key_is_held() -> None:
    """A key held down after the call keeps the model silent until it is released."""
    rig = _rig()
    b = rig.beats_to_ns
    inputs = _call(rig, 4, [60, 62, 64, 65]) + [(b(8), (0x90, 48, 80)), (b(14.5), (0x80, 48, 0))]
    rig.run(inputs, b(24))
    ons = _model_ons(rig)
    assert ons and min(ons) == 17.0  # 14.5 + 2.25 silence -> first grid beat 17


def test_barge_in_stops_the_answer_within_one_grid_step() -> None:
    """When the player comes back in, the model sends nothing more after one grid step."""
    rig = _rig()
    b = rig.beats_to_ns
    inputs = _call(rig, 4, [60, 62, 64, 65, 67, 65, 64, 62]) + [(b(15.3), (0x90, 72, 90))]
    rig.run(inputs, b(30))
    cut = 15.3 + 1 / 12  # one grid step after the player's note
    model = [(rig.timeline.beat_at(t), m) for t, m in rig.port.sent]
    assert [t for t, m in model if m[0] & 0xF0 == 0x90 and m[2] and t < 15.3]  # it was playing
    assert not [t for t, m in model if m[0] & 0xF0 == 0x90 and m[2] and t > 15.3]
    assert not [t for t, m in model if m[0] & 0xF0 == 0x80 and t > cut]  # released by then
    assert _sounding_after(rig.port.sent) == 0 and rig.engine.barge_ins == 1


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    events=st.lists(
        st.tuples(st.floats(0, 40), st.integers(40, 90), st.floats(0.05, 4)), max_size=30
    ),
    stop=st.floats(1, 48),
    mode=st.sampled_from(["call-response", "continue", "duet"]),
)
def test_any_input_and_any_stop_leaves_nothing_sounding(events, stop, mode) -> None:
    """For any random input stream and any stop time, nothing the model played stays on."""
    rig = _rig(mode)
    b = rig.beats_to_ns
    inputs = []
    for start, pitch, length in events:
        inputs += [(b(start), (0x90, pitch, 80)), (b(start + length), (0x80, pitch, 0))]
    rig.run(inputs, b(stop))
    rig.stop()
    assert _sounding_after(rig.port.sent) == 0
    assert not rig.ledger.sounding()


def test_ten_times_slower_model_never_sends_late() -> None:
    """With each model step slower than a beat's worth of planning, notes are moved or dropped
    and counted, and nothing is scheduled in the past or sent late."""
    cfg = EngineConfig(ModeConfig(mode="continue"), SamplerConfig(seed=3, low=48, high=84))
    rig = OfflineRig(cfg, FakeSession(3), bpm=BPM)
    slow = FakeSession(3, clock=rig.clock, step_ns=5_000_000, scheduler=rig.scheduler)
    rig.engine.planner.session = slow  # 5 ms a token: a plan of ~15 tokens misses its beat
    rig.run(_call(rig, 2, [60, 64]), rig.beats_to_ns(40))
    stats, sched = rig.engine.planner.stats, rig.scheduler.stats
    assert stats.plans > 10
    assert stats.shifted + stats.dropped > 0 and stats.notes > 0
    assert sched.rejected_past == 0 and sched.late == 0


def test_same_seed_same_answer() -> None:
    """Two runs with the same input, seed and model send exactly the same messages."""
    runs = []
    for _ in range(2):
        rig = _rig(seed=7)
        rig.run(_call(rig, 4, [60, 64, 67, 72]), rig.beats_to_ns(20))
        runs.append([(t, m) for t, m in rig.port.sent])
    assert runs[0] == runs[1] and runs[0]


def test_a_flood_of_notes_never_runs_the_stream_ahead_of_the_clock() -> None:
    """200 re-strikes of one key inside one beat (each would take a grid step) plus a chord
    struck twice within a grid step: after every plan the encoder stands at or before the
    planned beat, the surplus re-strikes are merged (counted), and the call is answered."""
    rig = _rig()
    b = rig.beats_to_ns
    inputs = []
    for i in range(200):  # 60 struck and released every 1/200 beat from beat 4
        inputs += [(b(4 + i / 200), (0x90, 60, 90)), (b(4 + (i + 0.5) / 200), (0x80, 60, 0))]
    for p in (64, 67):
        inputs += [(b(5), (0x90, p, 90)), (b(5.01), (0x80, p, 0)), (b(5.02), (0x90, p, 90))]
        inputs += [(b(5.9), (0x80, p, 0))]
    steps = []
    real_plan = rig.engine.planner.plan

    def plan(beat: int, *args, **kw) -> int:
        out = real_plan(beat, *args, **kw)
        steps.append((beat, rig.engine.planner.encoder.step))
        return out

    rig.engine.planner.plan = plan
    rig.run(inputs, b(16))
    planner = rig.engine.planner
    assert steps and all(step <= beat * 12 + 12 * 2 for beat, step in steps)  # the answer's notes
    assert planner.stats.merged >= 200 - 12  # at most one strike of 60 per grid step survives
    assert _model_ons(rig)  # still answered
    assert _sounding_after(rig.port.sent) == 0


def test_a_key_that_lost_its_note_off_is_released() -> None:
    """A call whose last key never sends a note-off, the player silent after it: 32 beats
    after it went down, with no note for 16 (a chord may be held for up to eight bars), the
    key is released (counted) and the model answers; before, it waits."""
    rig = _rig()
    b = rig.beats_to_ns
    inputs = _call(rig, 4, [60, 62, 64]) + [(b(7), (0x90, 65, 90))]  # 65 never comes up
    rig.run(inputs, b(80))  # the call lasts 35 beats; the answer is as long
    ons = _model_ons(rig)
    assert rig.engine.listener.stuck_released == 1
    assert ons and 41.0 <= min(ons) <= 43.0  # released at 39 (down at 7, + 32), + 2.25 silence
    assert _sounding_after(rig.port.sent) == 0
