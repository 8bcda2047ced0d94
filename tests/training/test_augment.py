"""training.augment and training.humanize_split on a few prepared pieces, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtgen.events import Role
from rtgen.tokens import decode_tokens
from training.augment import main as augment
from training.baseline import main as baseline
from training.data import load_split
from training.humanize_split import main as humanize_split
from training.train import main as train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def human(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aug") / "human"
    assert augment(["--data", str(tiny_dataset), "--out", str(out), "--copies", "2"]) == 0
    return out


def _pieces(folder: Path, split: str) -> list[np.ndarray]:
    flat = np.load(folder / f"{split}.npy")
    return [flat[o : o + n] for o, n in np.load(folder / f"{split}_index.npy")]


def _role(tokens: np.ndarray, role: Role) -> list:
    return [n for n in decode_tokens(tokens.tolist()) if n.role == role]


def test_manifest_counts_match_the_shards(tiny_dataset: Path, human: Path) -> None:
    """train holds each piece 1 + K times, valid/test once; counts and vocabulary are right."""
    m = json.loads((human / "manifest.json").read_text())
    src = json.loads((tiny_dataset / "manifest.json").read_text())
    for split in ("train", "valid", "test"):
        n_src = src["splits"][split]["pieces"]
        rows = _pieces(human, split)
        s = m["splits"][split]
        assert s["source_pieces"] == n_src
        assert s["pieces"] == len(rows) == n_src * (3 if split == "train" else 1)
        assert s["tokens"] == sum(len(r) for r in rows) == len(load_split(human, split))
        assert s["model_role_exact"] == 1.0
    assert m["pieces"] == sum(m["splits"][s]["pieces"] for s in m["splits"])
    assert m["vocab"] == src["vocab"] and m["augment"]["copies"] == 2


def test_model_role_clean_player_role_humanised(tiny_dataset: Path, human: Path) -> None:
    """Every row decodes to the source's model notes; humanised rows change the player's
    velocities, some onsets (on the grid) and most ends, differently in each copy."""
    src, rows = _pieces(tiny_dataset, "train"), _pieces(human, "train")
    notes = onsets = ends = 0
    for i, piece in enumerate(src):
        clean, *copies = rows[3 * i : 3 * i + 3]
        assert np.array_equal(clean, piece)
        assert not np.array_equal(copies[0], copies[1])
        player = sorted(_role(piece, Role.PLAYER), key=lambda n: (n.pitch, n.start))
        for c in copies:
            assert _role(c, Role.MODEL) == _role(piece, Role.MODEL)
            played = sorted(_role(c, Role.PLAYER), key=lambda n: (n.pitch, n.start))
            assert [n.pitch for n in played] == [n.pitch for n in player]
            if player:
                assert {n.velocity for n in played} != {n.velocity for n in player}
            notes += len(player)
            onsets += sum(a.start != b.start for a, b in zip(player, played))
            ends += sum(a.end != b.end for a, b in zip(player, played))
    assert 0.05 < onsets / notes < 0.6 and ends / notes > 0.3


def test_augment_is_reproducible_and_rejects_bad_input(tiny_dataset: Path, tmp_path: Path) -> None:
    """A second build writes identical shards; a folder without manifest exits 2."""
    out = tmp_path / "again"
    assert augment(["--data", str(tiny_dataset), "--out", str(out), "--copies", "1"]) == 0
    first = np.load(out / "train.npy")
    assert augment(["--data", str(tiny_dataset), "--out", str(out), "--copies", "1"]) == 0
    assert np.array_equal(first, np.load(out / "train.npy"))
    assert augment(["--data", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_trains_and_builds_ngram_on_augmented_shards(human: Path, tmp_path: Path) -> None:
    """The tiny recipe and the n-gram run on the augmented folder as on a prepared one."""
    os.chdir(ROOT)
    sets = [f"train.data='{human}'", f"train.out='{tmp_path}'", "train.max_steps=20"]
    sets += ["train.eval_every=10"]
    assert train(["--config", "configs/tiny.toml", *[a for s in sets for a in ("--set", s)]]) == 0
    assert (tmp_path / "best.ckpt").is_file()
    npz = tmp_path / "best.ngram.npz"
    assert baseline(["--data", str(human), "--order", "4", "--out", str(npz)]) == 0
    assert npz.is_file()


def test_humanized_split_writes_every_file_and_eval_reads_it(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """Each test MIDI file comes out humanised at a recorded tempo; rtgen eval scores them."""
    out = tmp_path / "test-human"
    args = ["--data", str(tiny_dataset), "--split", "test", "--out", str(out)]
    assert humanize_split(args) == 0
    clean = sorted(p.name for p in (tiny_dataset / "midi" / "test").glob("*.mid"))
    assert sorted(p.name for p in out.glob("*.mid")) == clean and clean
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["files"]) == set(clean)
    assert all(80 <= f["bpm"] <= 160 for f in m["files"].values())
    assert m["roles_humanised"] == ["model", "player"]
    first = (out / clean[0]).read_bytes()
    assert humanize_split(args) == 0 and (out / clean[0]).read_bytes() == first
    res = subprocess.run(
        [sys.executable, "-m", "rtgen", "eval", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["files"] == len(clean)
