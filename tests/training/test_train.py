"""Training: the tiny recipe learns, resume is exact, torchrun keeps ranks identical."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.train import main as train

TINY = ["--config", "configs/tiny.toml"]
ROOT = Path(__file__).resolve().parents[2]


def _sets(data: Path, out: Path, *extra: str) -> list[str]:
    args = [f"train.data='{data}'", f"train.out='{out}'", *extra]
    return [a for s in args for a in ("--set", s)]


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def test_tiny_recipe_trains_and_loss_falls(tiny_dataset: Path, tmp_path: Path) -> None:
    """300 steps of configs/tiny.toml lower validation NLL well below its first value."""
    os.chdir(ROOT)
    assert train(TINY + _sets(tiny_dataset, tmp_path, "train.eval_every=50")) == 0
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    first, last = float(rows[0]["valid_bits"]), float(rows[-1]["valid_bits"])
    assert len(rows) == 6 and last < first - 0.5
    assert (tmp_path / "best.ckpt").is_file()


def test_resume_matches_uninterrupted_run(tiny_dataset: Path, tmp_path: Path) -> None:
    """A run stopped at step 60 and resumed ends with the same weights as one that never stopped."""
    os.chdir(ROOT)
    common = ("train.max_steps=120", "train.eval_every=30")
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(TINY + _sets(tiny_dataset, a, *common)) == 0
    assert train(TINY + _sets(tiny_dataset, b, *common) + ["--stop-at", "60"]) == 0
    assert torch.load(b / "last.ckpt", weights_only=True)["train_state"]["step"] == 60
    assert train(TINY + _sets(tiny_dataset, b, *common) + ["--resume"]) == 0
    wa, wb = _weights(a / "last.ckpt"), _weights(b / "last.ckpt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def _torchrun(data: Path, out: Path, *extra: str) -> dict:
    """Two ranks on CPU (gloo); exit 0 (a rank that dies at exit fails it), and OUT/ranks.json."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a free port: a fixed one fails when anything else holds it
        "--nproc_per_node=2",
        "-m",
        "training.train",
        *TINY,
        *_sets(data, out, "train.max_steps=30", "train.eval_every=15"),
        *extra,
    ]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads((out / "ranks.json").read_text())


def test_torchrun_two_ranks_agree_and_resume_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    """torchrun --nproc_per_node=2: both ranks hold the same weights, and a run stopped at step 15
    and resumed (every rank's RNG states gathered into the checkpoint) ends where one that never
    stopped does."""
    whole = _torchrun(tiny_dataset, tmp_path / "a")
    _torchrun(tiny_dataset, tmp_path / "b", "--stop-at", "15")
    resumed = _torchrun(tiny_dataset, tmp_path / "b", "--resume")
    for ranks in (whole, resumed):
        assert len(ranks["weights_sha256"]) == 2 and ranks["agree"] is True
    assert resumed["weights_sha256"] == whole["weights_sha256"]


def test_unknown_config_key_is_one_line_error(tmp_path: Path, capsys) -> None:
    """A recipe key that does not exist stops training with a one-line error and code 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 0.1\n")
    assert train(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown train setting 'learning_rate'" in err and len(err.splitlines()) == 1


def test_wrong_type_is_one_line_error(capsys) -> None:
    """A value of the wrong type (hidden as a string) is refused before any work starts."""
    assert train(TINY + ["--set", "model.hidden='big'"]) == 2
    err = capsys.readouterr().err.strip()
    assert "must be int" in err and len(err.splitlines()) == 1


def test_last_line_names_the_best_checkpoint_beside_the_baseline(
    tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The run ends with the best checkpoint's path and validation figure, and the n-gram
    baseline's figure on the same tokens with the ratio (or how to make a baseline)."""
    from training.baseline import main as baseline

    os.chdir(ROOT)
    quick = ("train.max_steps=20", "train.eval_every=10")
    assert train(TINY + _sets(tiny_dataset, tmp_path / "bare", *quick)) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"best checkpoint: {tmp_path / 'bare' / 'best.ckpt'} (valid ")
    assert (
        f"no n-gram baseline beside it: python -m training.baseline --data {tiny_dataset}" in last
    )

    out = tmp_path / "run"
    assert (
        baseline(
            ["--data", str(tiny_dataset), "--order", "3", "--out", str(out / "best.ngram.npz")]
        )
        == 0
    )
    capsys.readouterr()
    assert train(TINY + _sets(tiny_dataset, out, *quick)) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    found = re.fullmatch(
        rf"best checkpoint: {re.escape(str(out / 'best.ckpt'))} \(valid (\d+\.\d{{4}}) bits/token; "
        r"n-gram baseline (\d+\.\d{4}) on the same tokens, ratio (\d+\.\d\d)\)",
        last,
    )
    assert found, last
    valid, base, ratio = map(float, found.groups())
    best = min(float(r["valid_bits"]) for r in csv.DictReader(open(out / "metrics.csv")))
    assert valid == pytest.approx(best, abs=1e-4)
    assert ratio == pytest.approx(valid / base, abs=0.01) and 1.0 < base < 8.0


def test_init_starts_from_a_checkpoints_weights(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    """train.init fine-tunes: one step from a trained checkpoint validates near where that
    checkpoint ended, far below one step from scratch; a checkpoint of another shape is a
    one-line error."""
    os.chdir(ROOT)
    src = tmp_path / "src"
    assert train(TINY + _sets(tiny_dataset, src, "train.max_steps=100", "train.eval_every=50")) == 0
    init = f"train.init='{src / 'last.ckpt'}'"
    one = ("train.max_steps=1", "train.eval_every=1")
    assert train(TINY + _sets(tiny_dataset, tmp_path / "ft", init, *one)) == 0
    assert train(TINY + _sets(tiny_dataset, tmp_path / "scratch", *one)) == 0

    def first_bits(run: str) -> float:
        return float(next(csv.DictReader(open(tmp_path / run / "metrics.csv")))["valid_bits"])

    src_last = float(list(csv.DictReader(open(src / "metrics.csv")))[-1]["valid_bits"])
    assert abs(first_bits("ft") - src_last) < 0.3 and first_bits("ft") < first_bits("scratch") - 1
    capsys.readouterr()
    other = _sets(tiny_dataset, tmp_path / "x", init, "model.hidden=24", *one)
    assert train(TINY + other) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.init" in err, err
