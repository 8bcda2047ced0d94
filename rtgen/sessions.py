"""Open a model file in the session its suffix calls for, and score token streams with it.

    session = open_session(path, device="auto")   # .onnx, .ckpt or .pt

``.onnx`` opens in ONNX Runtime (``rtgen.engine.session``, what the daemon runs); ``.ckpt``
(a checkpoint) and ``.pt`` (TorchScript, legacy) in torch (``rtgen.models.sessions``, loaded
only then). The dispatcher sits outside the engine, so the engine never reaches for torch,
and the export's parity check opens its files without importing the engine's insides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtgen.errors import RtgenError


def open_session(path: Path, device: str = "auto", threads: int = 1):
    """The right session for a model file, by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise RtgenError(f"{path}: no such model file")
    if path.suffix == ".onnx":
        from rtgen.engine.session import OnnxSession

        return OnnxSession(path, device, threads)
    if path.suffix == ".ckpt":
        from rtgen.models.sessions import TorchSession

        return TorchSession.open(path, threads)
    if path.suffix == ".pt":
        from rtgen.models.sessions import TorchScriptSession

        return TorchScriptSession(path, device, threads)
    raise RtgenError(f"{path}: unknown model format (expected .onnx, .ckpt or .pt)")


def open_play_session(model: Path | None, device: str):
    """The session ``rtgen play`` runs: ``model``, or the bundled one for ``device``. The
    bundled choice is made after opening: when CUDA was wanted (fp32 on the GPU) but ONNX
    Runtime fell back to the CPU, the int8 twin is opened on the CPU instead, as it would
    have been on a machine without CUDA."""
    from rtgen.assets import default_play_model

    session = open_session(model or default_play_model(device), device)
    if model is None and getattr(session, "fell_back", False):
        session = open_session(default_play_model("cpu"), "cpu")
    return session


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    return z - math.log(np.exp(z).sum())


class SessionScorer:
    """-log2 p of a token sequence, stepped through the same session the daemon uses."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.session = open_session(path, device)
        self.meta = self.session.meta

    def bits(self, seq: np.ndarray, on_tokens: Callable[[int], None] | None = None) -> float:
        """Total -log2 p of seq[1:]; ``on_tokens(n)`` as every 256 tokens are scored (one
        step each: a long piece takes seconds to minutes)."""
        self.session.reset()
        total = 0.0
        for i, (cur, nxt) in enumerate(zip(seq[:-1], seq[1:]), start=1):
            total -= log_softmax(self.session.step(int(cur)))[int(nxt)]
            if on_tokens is not None and i % 256 == 0:
                on_tokens(256)
        rest = max(len(seq) - 1, 0) % 256
        if on_tokens is not None and rest:
            on_tokens(rest)
        return total / math.log(2.0)
