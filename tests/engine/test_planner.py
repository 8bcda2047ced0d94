"""The planner's shortcuts change no note: the resume point, lazy feeding, commit order."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.assets import ASSETS
from rtgen.engine.engine import EngineConfig
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from rtgen.events import NoteEvent, Role
from tests.engine.fakes import FakeSession


def _duet(session, seed: int = 5) -> OfflineRig:
    cfg = EngineConfig(ModeConfig(mode="duet"), SamplerConfig(seed=seed, low=48, high=84))
    return OfflineRig(cfg, session, bpm=120.0)


def _play(rig: OfflineRig) -> None:
    """Chords struck together, then a melody that comes and goes: some commits match the
    plan before them, some do not (the player played)."""
    b = rig.beats_to_ns
    inputs = []
    for p in (60, 64, 67):
        inputs += [(b(1), (0x90, p, 90)), (b(2.5), (0x80, p, 0))]
    for i, p in enumerate((62, 65, 69, 72)):
        inputs += [(b(8 + 1.5 * i), (0x90, p, 80)), (b(8.7 + 1.5 * i), (0x80, p, 0))]
    rig.run(inputs, b(24))


def _without_reuse(rig: OfflineRig) -> None:
    planner = rig.engine.planner
    real = planner._feed_committed

    def feed(tokens: list[int]):
        planner._resume = None
        return real(tokens)

    planner._feed_committed = feed


def test_reusing_the_plans_state_sends_the_same_notes_with_fewer_steps() -> None:
    runs = []
    for reuse in (True, False):
        rig = _duet(FakeSession(5))
        if not reuse:
            _without_reuse(rig)
        _play(rig)
        runs.append((rig.port.sent, rig.engine.planner.stats))
    (sent, stats), (sent_plain, stats_plain) = runs
    assert sent == sent_plain and sent
    assert stats.reused > 0 and stats_plain.reused == 0
    assert stats.steps + stats.reused == stats_plain.steps


@pytest.mark.parametrize("model", ["fake", "default.onnx"])
def test_the_committed_state_is_the_state_of_the_whole_committed_stream(model: str) -> None:
    """After any number of plans (resume points taken or not), the model's logits are those
    of the committed stream fed from the start: the shortcut is exact, also for ORT."""
    if model == "fake":
        make = lambda: FakeSession(5)  # noqa: E731
    else:
        from rtgen.sessions import open_session

        make = lambda: open_session(ASSETS / model, "cpu", threads=1)  # noqa: E731
    rig = _duet(make())
    _play(rig)
    planner = rig.engine.planner
    assert planner.stats.reused > 0
    replay = make()
    for tok in [T.BOS, *planner.committed]:
        logits = replay.step(tok)
    np.testing.assert_array_equal(planner.logits, logits)


def test_tokens_after_the_last_draw_never_reach_the_model() -> None:
    rig = _duet(FakeSession(5))
    planner = rig.engine.planner
    fed: list[int] = []
    real_step = planner.session.step

    def step(token: int) -> np.ndarray:
        fed.append(token)
        return real_step(token)

    planner.session.step = step
    real_window = planner._sample_window

    def window(run, *args):
        fed.clear()
        out = yield from real_window(run, *args)
        assert fed == run.spec[: len(fed)] and len(fed) < len(run.spec)
        return out

    planner._sample_window = window
    _play(rig)
    assert planner.stats.plans > 10


def test_simultaneous_events_are_committed_as_the_training_data_orders_them() -> None:
    """Struck together in any order, a chord is committed low to high (tokens.encode_notes
    does the same), so the model's own chords match the plan they came from."""
    rig = _duet(FakeSession(5))
    planner = rig.engine.planner
    t = rig.beats_to_ns(1)
    for pitch in (67, 60, 64):
        planner.add_player_event(NoteEvent(1.0, pitch, 90, Role.PLAYER), t)
    planner.commit(rig.beats_to_ns(2))
    ons = [tok - T.NOTE_ON_BASE for tok in planner.committed if T.kind_of(tok)[0] == "NOTE_ON"]
    assert ons == [60, 64, 67]
