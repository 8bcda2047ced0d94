"""python -m training.baseline: counts a prepared dataset; the package reads what it saves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.events import Note
from rtgen.ngram import NGram
from training.baseline import main


def _split(folder: Path, name: str, pieces: list[list[int]]) -> None:
    flat = np.asarray([t for p in pieces for t in p], dtype=np.int64)
    offsets = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    np.save(folder / f"{name}.npy", flat)
    np.save(folder / f"{name}_index.npy", np.stack([offsets, [len(p) for p in pieces]], 1))


def test_cli_builds_an_ngram_the_package_loads(tmp_path: Path, capsys) -> None:
    """A tiny prepared folder: exit 0, bits per token for valid and test, a loadable file."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"vocab": T.describe()}))
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    pieces = [
        T.encode_notes([Note(i * 0.5, i * 0.5 + 0.5, scale[(i + k) % 8]) for i in range(16)])
        for k in range(8)
    ]
    for split in ("train", "valid", "test"):
        _split(data, split, pieces)
    out = tmp_path / "m.ngram.npz"
    assert main(["--data", str(data), "--order", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valid:" in printed and "test:" in printed
    ngram = NGram.load(out)
    assert ngram.order == 3 and ngram.log2_probs(np.asarray(pieces[0])).mean() > -2
