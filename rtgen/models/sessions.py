"""Sessions over torch, beside the models: a checkpoint in eager PyTorch, and TorchScript.

Both keep the step-graph session contract of ``rtgen.engine.session.OnnxSession`` (reset /
step / snapshot / restore, ``meta``, ``kind``, ``providers``), so the parity check, the
bench and ``rtgen eval`` compare runtimes through one interface; ``rtgen.sessions`` picks
one by a file's suffix. torch is imported when a session is made: the daemon never does.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rtgen.errors import RtgenError
from rtgen.graph_contract import TORCHSCRIPT_META_FILE, check_meta, state_shapes
from rtgen.ropetable import StepInputs


def load_torchscript(path: Path) -> tuple[Any, dict]:
    """(the step module in eval mode, its metadata as stored, unchecked) from a .pt file."""
    import torch

    extra = {TORCHSCRIPT_META_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[TORCHSCRIPT_META_FILE] or "{}")


class TorchSession:
    """Steps a PyTorch model (a checkpoint): for users who have torch, and for parity."""

    def __init__(self, model, meta: dict, path: Path | None = None) -> None:
        import torch

        self.torch = torch
        self.model, self.meta, self.path = model.eval(), meta, path
        self.kind = model.kind
        self.providers, self.fell_back = ["torch"], False
        self.reset()

    @classmethod
    def open(cls, path: Path, threads: int = 1) -> TorchSession:
        try:
            import torch
        except ImportError:
            raise RtgenError(
                f"{path}: a checkpoint needs torch (pip install 'rtgen[train]'); "
                "the daemon runs ONNX files from rtgen export"
            ) from None
        from rtgen.models.checkpoint import load_model

        torch.set_num_threads(threads)
        model, meta = load_model(Path(path))
        return cls(model, meta, Path(path))

    def reset(self) -> None:
        self.state = self.model.init_state()

    def step(self, token: int) -> np.ndarray:
        with self.torch.no_grad():
            logits, self.state = self.model.step(self.torch.tensor([token]), self.state)
        return logits[0].numpy()

    def snapshot(self) -> tuple:
        return tuple(s.clone() if hasattr(s, "clone") else s for s in self.state)

    def restore(self, snap: tuple) -> None:
        self.state = tuple(s.clone() if hasattr(s, "clone") else s for s in snap)


class TorchScriptSession:
    """Steps a TorchScript step graph (``rtgen export --format torchscript``): legacy."""

    def __init__(self, path: Path, device: str = "auto", threads: int = 1) -> None:
        try:
            import torch
        except ImportError:
            raise RtgenError(
                f"{path}: TorchScript needs torch; pip install 'rtgen[train]'"
            ) from None

        torch.set_num_threads(threads)
        self.torch = torch
        try:
            self.module, meta = load_torchscript(Path(path))
        except Exception:
            raise RtgenError(f"{path}: not a readable TorchScript file") from None
        self.meta = check_meta(meta, Path(path))
        self.kind, self.path = self.meta["kind"], path
        self.providers, self.fell_back = ["torchscript"], False
        cfg = self.meta["config"]
        if self.kind == "transformer":
            self.window, self.head_dim = cfg["window"], cfg["d_model"] // cfg["heads"]
            self.step_inputs = StepInputs(self.window, self.head_dim)
        self._shapes = state_shapes(self.kind, cfg)
        self.reset()

    def reset(self) -> None:
        self.pos = 0
        self.state = [self.torch.zeros(shape) for shape in self._shapes]

    def step(self, token: int) -> np.ndarray:
        args = [self.torch.tensor([token])]
        if self.kind == "transformer":
            d = self.step_inputs(self.pos)
            args += [self.torch.from_numpy(d[k]) for k in ("rope", "bias")]
            args += [*self.state[0].unbind(0), *self.state[1].unbind(0)]
        else:
            args += self.state
        with self.torch.no_grad():
            logits, *out = self.module(*args)
        if self.kind == "transformer":
            layers = len(out) // 2
            news = [self.torch.stack(out[:layers]), self.torch.stack(out[layers:])]
            self.step_inputs.store(self.state, news, self.pos)
        else:
            self.state = out
        self.pos += 1
        return logits[0].numpy()

    def snapshot(self) -> tuple:
        return (self.pos, [s.clone() for s in self.state])

    def restore(self, snap: tuple) -> None:
        self.pos, state = snap
        self.state = [s.clone() for s in state]
