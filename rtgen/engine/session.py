"""One stepping interface over the runtimes: ONNX Runtime (CPU or CUDA) and torch.

    session = open_session(path, device="auto")
    logits = session.step(token)          # (vocab,) float32; the state advances
    snap = session.snapshot(); ...; session.restore(snap)   # the planner's rollback
    session.reset()                       # a fresh piece

ONNX sessions run with one intra-op and one inter-op thread, sequential execution and all
graph optimisations (DESIGN.md). On CPU plain ``run()`` with numpy is already zero-copy. On
CUDA the recurrent state stays on the device through IOBinding and only logits come back.
This module never imports torch unless a checkpoint or TorchScript file is opened.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.ropetable import step_inputs

log = logging.getLogger("rtgen.session")
META_KEY = "rtgen"
DEVICES = ("auto", "cpu", "cuda")


def _ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise RtgenError(
            "ONNX Runtime is not installed: pip install 'rtgen[cpu]' (or 'rtgen[gpu]')"
        ) from None
    return ort


def check_meta(meta: dict, path: Path) -> dict:
    if meta.get("format") != "rtgen-ckpt-1":
        raise RtgenError(f"{path}: no rtgen metadata (not exported by rtgen export)")
    version = meta.get("vocab", {}).get("version")
    if version != T.VOCAB_VERSION:
        raise RtgenError(f"{path}: vocabulary {version!r} is not this rtgen's {T.VOCAB_VERSION!r}")
    return meta


def read_onnx_meta(path: Path) -> dict:
    """The JSON self-description stored in an rtgen ONNX file."""
    ort = _ort()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise RtgenError(f"{path}: not a readable ONNX model ({reason})") from None
    raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise RtgenError(f"{path}: no rtgen metadata (not exported by rtgen export)")
    return check_meta(json.loads(raw), path)


class OnnxSession:
    """Steps an rtgen ONNX graph; state lives in numpy arrays (CPU) or OrtValues (CUDA)."""

    def __init__(self, path: Path, device: str = "auto", threads: int = 1) -> None:
        ort = _ort()
        path = Path(path)
        if not path.is_file():
            raise RtgenError(f"{path}: no such model file")
        self.meta = read_onnx_meta(path)
        self.kind = self.meta["kind"]
        self.path = path
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.providers_requested = self._providers(ort, device)
        self.sess = ort.InferenceSession(str(path), so, providers=self.providers_requested)
        self.providers = self.sess.get_providers()
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"
        self.fell_back = "CUDAExecutionProvider" in self.providers_requested and not self.on_cuda
        if self.fell_back:
            log.warning("CUDA was requested but ONNX Runtime fell back to CPU (%s)", self.providers)
        self._state_names = ["h", "c"] if self.kind == "lstm" else ["k_cache", "v_cache"]
        shapes = {i.name: i.shape for i in self.sess.get_inputs()}
        self._shapes = {n: tuple(shapes[n]) for n in self._state_names}
        cfg = self.meta["config"]
        if self.kind == "transformer":
            self.window, self.head_dim = cfg["window"], cfg["d_model"] // cfg["heads"]
        self.reset()

    @staticmethod
    def _providers(ort, device: str) -> list[str]:  # noqa: ANN001
        if device not in DEVICES:
            raise RtgenError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
        have = ort.get_available_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in have:
            raise RtgenError(
                "--device cuda: this ONNX Runtime has no CUDA provider "
                "(install rtgen[gpu] instead of rtgen[cpu])"
            )
        if device in ("cuda", "auto") and "CUDAExecutionProvider" in have:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def reset(self) -> None:
        self.pos = 0
        zeros = [np.zeros(self._shapes[n], dtype=np.float32) for n in self._state_names]
        self._set_state(zeros)

    def _set_state(self, arrays: list[np.ndarray]) -> None:
        if self.on_cuda:  # device-resident state: OrtValues that never leave the GPU
            ort = _ort()
            self.state = [ort.OrtValue.ortvalue_from_numpy(a, "cuda", 0) for a in arrays]
        else:
            self.state = [a.copy() for a in arrays]

    def _feeds(self, token: int) -> dict[str, np.ndarray]:
        feeds = {"token": np.array([token], dtype=np.int64)}
        if self.kind == "transformer":
            feeds.update(step_inputs(self.pos, self.window, self.head_dim))
        return feeds

    def step(self, token: int) -> np.ndarray:
        """Logits (vocab,) for the next token after ``token``; the state advances."""
        if self.on_cuda:
            logits = self._step_cuda(token)
        else:
            feeds = self._feeds(token)
            feeds.update(zip(self._state_names, self.state))
            out, *self.state = self.sess.run(None, feeds)
            logits = out[0]
        self.pos += 1
        return logits

    def _step_cuda(self, token: int) -> np.ndarray:
        io = self.sess.io_binding()
        for name, value in self._feeds(token).items():
            io.bind_cpu_input(name, value)
        for name, value in zip(self._state_names, self.state):
            io.bind_ortvalue_input(name, value)
        io.bind_output("logits", "cpu")  # only the logits come back to the host
        for name in self.sess.get_outputs()[1:]:
            io.bind_output(name.name, "cuda")
        self.sess.run_with_iobinding(io)
        logits, *self.state = io.get_outputs()
        return logits.numpy()[0]

    def snapshot(self) -> tuple:
        if self.on_cuda:
            return (self.pos, [s.numpy() for s in self.state])
        return (self.pos, [s.copy() for s in self.state])

    def restore(self, snap: tuple) -> None:
        self.pos, state = snap
        self._set_state(state)


class TorchSession:
    """Steps a PyTorch model (a checkpoint): for users who have torch, and for parity."""

    def __init__(self, model, meta: dict, path: Path | None = None) -> None:  # noqa: ANN001
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
        from rtgen.export.torchscript import load_torchscript

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
        if self.kind == "lstm":
            shape = (cfg["layers"], 1, cfg["hidden"])
        else:
            self.window, self.head_dim = cfg["window"], cfg["d_model"] // cfg["heads"]
            shape = (cfg["layers"], 1, cfg["heads"], cfg["window"], self.head_dim)
        self._shape = shape
        self.reset()

    def reset(self) -> None:
        self.pos = 0
        self.state = [self.torch.zeros(self._shape), self.torch.zeros(self._shape)]

    def step(self, token: int) -> np.ndarray:
        args = [self.torch.tensor([token])]
        if self.kind == "transformer":
            d = step_inputs(self.pos, self.window, self.head_dim)
            args += [self.torch.from_numpy(d[k]) for k in ("cos", "sin", "write", "bias")]
        with self.torch.no_grad():
            logits, *self.state = self.module(*args, *self.state)
        self.pos += 1
        return logits[0].numpy()

    def snapshot(self) -> tuple:
        return (self.pos, [s.clone() for s in self.state])

    def restore(self, snap: tuple) -> None:
        self.pos, state = snap
        self.state = [s.clone() for s in state]


def open_session(path: Path, device: str = "auto", threads: int = 1):  # noqa: ANN201
    """The right session for a model file, by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise RtgenError(f"{path}: no such model file")
    if path.suffix == ".onnx":
        return OnnxSession(path, device, threads)
    if path.suffix == ".ckpt":
        return TorchSession.open(path, threads)
    if path.suffix == ".pt":
        return TorchScriptSession(path, device, threads)
    raise RtgenError(f"{path}: unknown model format (expected .onnx, .ckpt or .pt)")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    return z - math.log(np.exp(z).sum())


class SessionScorer:
    """-log2 p of a token sequence, stepped through the same session the daemon uses."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.session = open_session(path, device)
        self.meta = self.session.meta

    def bits(self, seq: np.ndarray) -> float:
        self.session.reset()
        total = 0.0
        for cur, nxt in zip(seq[:-1], seq[1:]):
            total -= log_softmax(self.session.step(int(cur)))[int(nxt)]
        return total / math.log(2.0)
