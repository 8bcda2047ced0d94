"""Negative log-likelihood of a model and of its n-gram baseline on the same tokens.

Each piece is scored from its own BOS with a fresh model state, as the daemon would start.
A checkpoint is scored with one batched forward per piece (exactly the stepped result, and
fast); an ONNX model is stepped token by token through the runtime session the daemon uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgen.errors import RtgenError

LN2 = math.log(2.0)


@dataclass
class Score:
    bits: float = 0.0  # total -log2 p over predicted tokens
    tokens: int = 0  # predicted tokens (each piece's tokens after its BOS)

    def add(self, bits: float, tokens: int) -> None:
        self.bits += bits
        self.tokens += tokens

    @property
    def per_token(self) -> float | None:
        return self.bits / self.tokens if self.tokens else None


class CheckpointScorer:
    """-log2 p of a token sequence under a PyTorch checkpoint (imports torch)."""

    def __init__(self, path: Path) -> None:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise RtgenError(
                f"{path}: scoring a checkpoint needs torch (pip install 'rtgen[train]'); "
                "or export it to ONNX with rtgen export"
            ) from None
        from rtgen.models.checkpoint import load_model

        self.model, self.meta = load_model(path)

    def bits(self, seq: np.ndarray, on_tokens: Callable[[int], None] | None = None) -> float:
        """Total -log2 p of seq[1:]; ``on_tokens(n)`` once they are scored."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.asarray(seq, dtype=np.int64)).view(1, -1)
        with torch.no_grad():
            if self.model.kind == "transformer":
                logits = _stepped_logits(self.model, x[0, :-1])
            else:
                logits, _ = self.model(x[:, :-1])
                logits = logits[0]
            nll = F.cross_entropy(logits, x[0, 1:], reduction="sum").item()
        if on_tokens is not None:
            on_tokens(max(len(seq) - 1, 0))
        return nll / LN2


def _stepped_logits(model, tokens):
    """Transformer logits by stepping with the fixed cache: no (T, T) mask for long pieces."""
    import torch

    state = model.init_state()
    out = []
    for t in tokens:
        logits, state = model.step(t.view(1), state)
        out.append(logits[0])
    return torch.stack(out)


def find_baseline(model_path: Path) -> Path | None:
    """The n-gram saved next to a model: ``<stem>.ngram.npz`` (an int8 model shares its fp32
    twin's), else ``ngram.npz`` in the same folder."""
    stem = model_path.name.split(".")[0]
    for cand in (model_path.parent / f"{stem}.ngram.npz", model_path.parent / "ngram.npz"):
        if cand.is_file():
            return cand
    return None


def make_scorer(path: Path):
    """A scorer for a model file, chosen by its format."""
    path = Path(path)
    if not path.is_file():
        raise RtgenError(f"{path}: no such model file")
    if path.suffix in (".onnx", ".pt"):
        from rtgen.sessions import SessionScorer

        return SessionScorer(path)  # steps through the daemon's session code
    return CheckpointScorer(path)
