"""Best of N (rtgen/engine/candidates.py, the planner): N continuations sampled at once, the
critic's pick kept; one candidate is the plan as it always was; seeds repeat."""

from __future__ import annotations

import numpy as np

from rtgen.engine.engine import EngineConfig
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from tests.engine.fakes import FakeSession


class LowCritic:
    """Prefers continuations whose notes are low: the mean of the model's NOTE_ON pitches."""

    def __init__(self) -> None:
        self.calls = 0

    def scores(self, rows: np.ndarray) -> np.ndarray:
        from rtgen import tokens as T

        self.calls += 1
        out = []
        for r in rows:
            model = False
            pitches = []
            for t in r:
                if t == T.role_token(T.Role.MODEL):
                    model = True
                elif model and T.NOTE_ON_BASE <= t < T.NOTE_ON_BASE + 128:
                    pitches.append(t - T.NOTE_ON_BASE)
            out.append(-np.mean(pitches) if pitches else -200.0)
        return np.array(out)


def _call(rig: OfflineRig) -> list:
    b = rig.beats_to_ns
    out = []
    for i, p in enumerate([60, 64, 67, 72, 71, 67, 64, 62]):
        out += [(b(4 + i), (0x90, p, 90)), (b(4 + i + 0.9), (0x80, p, 0))]
    return out


def _answer(candidates: int, critic, seed: int = 0) -> tuple[list[int], OfflineRig]:
    cfg = EngineConfig(
        ModeConfig(silence=1.0),
        SamplerConfig(seed=seed, low=48, high=84, max_note_beats=2.0),
    )
    rig = OfflineRig(cfg, FakeSession(seed), bpm=120.0)
    rig.engine.planner.candidates, rig.engine.planner.critic = candidates, critic
    rig.run(_call(rig), rig.beats_to_ns(28))
    rig.stop()
    ons = [m[1] for _, m in rig.port.sent if m[0] & 0xF0 == 0x90 and m[2]]
    return ons, rig


def test_one_candidate_plans_as_before_and_never_asks_the_critic() -> None:
    critic = LowCritic()
    plain, _ = _answer(1, None)
    one, _ = _answer(1, critic)
    assert plain and one == plain and critic.calls == 0


def test_the_critics_pick_is_kept_and_a_seed_repeats_it() -> None:
    """Over five seeds, best of 6 with a critic that likes low notes plays lower than one
    candidate; the critic was asked once per answer plan and often kept another than the
    first; the same seed plays the same notes."""
    lows, ones = [], []
    for seed in range(5):
        critic = LowCritic()
        best, rig = _answer(6, critic, seed)
        assert best and critic.calls == rig.engine.planner.stats.plans
        assert rig.engine.planner.stats.picked_other > 0
        assert _answer(6, LowCritic(), seed)[0] == best
        lows.append(np.mean(best))
        ones.append(np.mean(_answer(1, None, seed)[0]))
    assert np.mean(lows) < np.mean(ones) - 3, (lows, ones)


def test_duet_plays_one_candidate() -> None:
    """Best of N is for answers: playing along, the critic has no call to judge by."""
    cfg = EngineConfig(ModeConfig(mode="duet"), SamplerConfig(seed=0, low=48, high=84))
    rig = OfflineRig(cfg, FakeSession(0), bpm=120.0)
    critic = LowCritic()
    rig.engine.planner.candidates, rig.engine.planner.critic = 4, critic
    rig.run(_call(rig), rig.beats_to_ns(16))
    assert rig.engine.planner.stats.plans > 8 and critic.calls == 0


class FlatCritic:
    """Finds every continuation as real as any other: the pick is the rhythm's alone."""

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(rows))


def _swung_call(rig: OfflineRig) -> list:
    """Two bars of swung 8ths (onsets on steps 0 and 8 of each beat)."""
    b = rig.beats_to_ns
    out = []
    for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62] * 2):
        on = 4 + i // 2 + (2 / 3 if i % 2 else 0.0)
        out += [(b(on), (0x90, p, 90)), (b(on + 0.25), (0x80, p, 0))]
    return out


def _swung_share(rhythm_pick: float, seed: int) -> float:
    cfg = EngineConfig(
        ModeConfig(silence=1.0),
        SamplerConfig(seed=seed, low=48, high=84, max_note_beats=2.0),
    )
    rig = OfflineRig(cfg, FakeSession(seed), bpm=120.0)
    planner = rig.engine.planner
    planner.candidates, planner.critic, planner.rhythm_pick = 6, FlatCritic(), rhythm_pick
    call = _swung_call(rig)
    rig.run(call, rig.beats_to_ns(28))
    rig.stop()
    after = call[-1][0]
    steps = [
        round(t / rig.beats_to_ns(1) * 12)
        for t, m in rig.port.sent
        if m[0] & 0xF0 == 0x90 and m[2] and t > after
    ]
    assert steps, "no answer"
    return sum(s % 12 in (0, 8) for s in steps) / len(steps)


def test_the_calls_rhythm_weighs_in_the_pick() -> None:
    """To a swung call, with a critic that cannot tell candidates apart, weighing the
    call's rhythm keeps the candidates that swing: more of the answer's onsets fall on
    steps 0 and 8 of the beat than when the first candidate is always kept."""
    weighed = [_swung_share(5.0, seed) for seed in range(4)]
    plain = [_swung_share(0.0, seed) for seed in range(4)]
    assert np.mean(weighed) > np.mean(plain) + 0.15, (weighed, plain)
