"""The batched LSTM step graph (best-of-N candidates): its rows step as the one-state session
does, an LSTM file exported before it still plays (one candidate, said once), and a critic
file describes itself."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rtgen.critic.features import ROW_TOKENS
from rtgen.critic.session import CriticSession
from rtgen.engine.candidates import LockstepStates
from rtgen.engine.engine import EngineConfig
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.sampler import SamplerConfig
from rtgen.engine.session import OnnxSession
from rtgen.errors import RtgenError
from rtgen.models.checkpoint import load_model

CRITIC = Path(__file__).resolve().parents[2] / "rtgen/assets/default.critic.onnx"


def _export(ckpt: Path, out: Path, batched: bool) -> Path:
    from rtgen.export.onnx import export_onnx

    model, meta = load_model(ckpt)
    export_onnx(model, meta, out, batched=batched)
    return out


def test_a_batched_graphs_rows_step_as_single_sessions_do(ckpts: dict, tmp_path: Path) -> None:
    """Four rows fed different tokens in one call each step give the logits four separate
    sessions give, and a row's snapshot restores into the session as its own state."""
    session = OnnxSession(_export(ckpts["lstm"], tmp_path / "b.onnx", True), "cpu")
    assert session.batched
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, 300, (4, 12))
    rows = LockstepStates(session, session.snapshot(), 4)
    for j in range(12):
        got = rows.step([int(t) for t in seqs[:, j]])
    for i in range(4):
        session.reset()
        for t in seqs[i]:
            want = session.step(int(t))
        assert np.abs(got[i] - want).max() < 1e-5
        session.restore(rows.snapshot(i))
        after = session.step(7)
        session.reset()
        for t in seqs[i]:
            session.step(int(t))
        assert np.abs(session.step(7) - after).max() < 1e-5


def test_an_lstm_exported_before_batching_plays_one_candidate(
    ckpts: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An LSTM file of one state (as exported before) still opens and plays; asked for best
    of 4, the engine says once that it plays one candidate and how to get more."""
    session = OnnxSession(_export(ckpts["lstm"], tmp_path / "old.onnx", False), "cpu")
    assert not session.batched
    cfg = EngineConfig(
        ModeConfig(silence=1.0), SamplerConfig(seed=0), candidates=4, critic=str(CRITIC)
    )
    with caplog.at_level(logging.WARNING):
        rig = OfflineRig(cfg, session, bpm=120.0)
    assert rig.engine.planner.critic is None and rig.engine.planner.candidates == 1
    warned = [r.getMessage() for r in caplog.records if "re-export" in r.getMessage()]
    assert len(warned) == 1 and "one candidate" in warned[0]
    b = rig.beats_to_ns
    rig.run([(b(4), (0x90, 60, 90)), (b(5), (0x80, 60, 0))], b(12))
    assert rig.engine.planner.stats.plans > 0


def test_the_bundled_critic_scores_rows_and_a_model_file_is_refused(ckpts: dict) -> None:
    critic = CriticSession.open(CRITIC)
    rows = np.random.default_rng(0).integers(0, 300, (5, ROW_TOKENS))
    scores = critic.scores(rows)
    assert scores.shape == (5,) and np.isfinite(scores).all()
    assert np.allclose(critic.scores(rows[2:3]), scores[2:3], atol=1e-5)  # its own score
    model = Path(__file__).resolve().parents[2] / "rtgen/assets/default.onnx"
    with pytest.raises(RtgenError, match="not an rtgen critic"):
        CriticSession.open(model)
    with pytest.raises(RtgenError, match="no such file"):
        CriticSession.open(Path("nowhere.onnx"))


def test_rtgen_info_describes_the_critic() -> None:
    from rtgen.commands.info_cmd import model_info

    info = model_info(CRITIC)
    assert info["kind"] == "critic" and info["vocab_version"] == "rtgen-tokens-1"
    assert info["config"]["row_tokens"] == ROW_TOKENS and info["metrics"]["valid_auc_full"] > 0.5


@pytest.mark.parametrize("rhythm", [0.0, 1.0, 2.5])
def test_the_rhythm_strength_weighs_the_calls_rhythm_in_the_pick(
    ckpts: dict, tmp_path: Path, rhythm: float
) -> None:
    """--rhythm sets how much the call's rhythm weighs when the critic picks (0: not at
    all); without steering it does not weigh."""
    from rtgen.engine.bias import Strengths
    from rtgen.engine.rhythmfit import PICK_WEIGHT
    from rtgen.engine.steer import SteerConfig

    session = OnnxSession(_export(ckpts["lstm"], tmp_path / "b.onnx", True), "cpu")
    steer = SteerConfig(Strengths(rhythm=rhythm))
    for cfg_steer, want in ((steer, PICK_WEIGHT * rhythm), (None, 0.0)):
        cfg = EngineConfig(
            ModeConfig(silence=1.0),
            SamplerConfig(seed=0),
            candidates=4,
            critic=str(CRITIC),
            steer=cfg_steer,
        )
        planner = OfflineRig(cfg, session, bpm=120.0).engine.planner
        assert planner.candidates == 4 and planner.rhythm_pick == want
