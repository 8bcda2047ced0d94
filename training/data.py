"""Token shards on disk -> training windows, with transposition augmentation.

Shards are memory-mapped, so a dataset larger than memory trains the same way. All
randomness comes from one torch.Generator, whose state goes into the checkpoint: a resumed
run draws exactly the windows the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rtgen import tokens as T
from rtgen.errors import RtgenError
from training.shards import read_manifest


def load_split(data_dir: str | Path, split: str) -> np.ndarray:
    """All tokens of one split, back to back (BOS ... EOS per piece), memory-mapped."""
    read_manifest(data_dir)
    return np.load(Path(data_dir) / f"{split}.npy", mmap_mode="r")


def data_summary(data_dir: str | Path) -> dict:
    """What a checkpoint records about the data it was trained on."""
    m = json.loads((Path(data_dir) / "manifest.json").read_text())
    return {k: m[k] for k in ("source", "pieces", "tokens", "splits", "sources") if k in m}


_PITCHED = torch.zeros(T.VOCAB_SIZE, dtype=torch.bool)
_PITCHED[T.NOTE_ON_BASE : T.NOTE_ON_BASE + 128] = True
_PITCHED[T.NOTE_OFF_BASE : T.NOTE_OFF_BASE + 128] = True


def transpose(windows: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move every NOTE_ON/NOTE_OFF of row i by shifts[i] semitones; a row that would leave
    0..127 is left as it was. windows (batch, time) int64, shifts (batch,)."""
    pitched = _PITCHED[windows]
    base = torch.where(windows >= T.NOTE_OFF_BASE, T.NOTE_OFF_BASE, T.NOTE_ON_BASE)
    pitch = windows - base
    moved = pitch + shifts.view(-1, 1)
    ok = ((moved >= 0) & (moved <= 127)) | ~pitched
    row_ok = ok.all(dim=1, keepdim=True)
    return torch.where(pitched & row_ok, base + moved, windows)


class WindowSampler:
    """Random windows of ``seq_len + 1`` tokens (input and shifted target)."""

    def __init__(self, tokens: np.ndarray, seq_len: int, seed: int, max_transpose: int):
        if len(tokens) <= seq_len + 1:
            raise RtgenError(f"training split has {len(tokens)} tokens; need > {seq_len + 1}")
        self.tokens = tokens
        self.seq_len = seq_len
        self.max_transpose = max_transpose
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self, size: int) -> torch.Tensor:
        high = len(self.tokens) - self.seq_len - 1
        starts = torch.randint(0, high, (size,), generator=self.gen).tolist()
        rows = np.stack([self.tokens[s : s + self.seq_len + 1] for s in starts])
        windows = torch.from_numpy(rows.astype(np.int64))
        if self.max_transpose:
            k = self.max_transpose
            shifts = torch.randint(-k, k + 1, (size,), generator=self.gen)
            windows = transpose(windows, shifts)
        return windows


def eval_windows(tokens: np.ndarray, seq_len: int, max_tokens: int) -> torch.Tensor:
    """Fixed, non-overlapping windows over the start of a split: the same every evaluation."""
    n = min(len(tokens) - 1, max_tokens) // seq_len
    rows = np.asarray(tokens[: n * seq_len + 1]).astype(np.int64)
    starts = np.arange(n) * seq_len
    return torch.from_numpy(np.stack([rows[s : s + seq_len + 1] for s in starts]))
