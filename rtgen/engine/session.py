"""One stepping interface over the runtimes: ONNX Runtime (CPU or CUDA) and torch.

    session = open_session(path, device="auto")
    logits = session.step(token)          # (vocab,) float32; the state advances
    snap = session.snapshot(); ...; session.restore(snap)   # the planner's rollback
    session.reset()                       # a fresh piece

ONNX sessions run with one intra-op and one inter-op thread, sequential execution and all
graph optimisations (DESIGN.md). An LSTM steps through plain ``run()`` on CPU (zero-copy
with numpy); on CUDA its state stays on the device through IOBinding and only logits come
back. A Transformer steps through an IOBinding made once (RingBinding): its rings stay in
host arrays that the graph only reads, and the session writes each token's keys/values.
This module never imports torch unless a checkpoint or TorchScript file is opened.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.ropetable import StepInputs

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


# The config keys each kind's step graph needs, all positive integers. Anything else in the
# metadata is descriptive (data, metrics) and never read by the runtime.
NEEDED_CONFIG = {
    "lstm": ("vocab_size", "hidden", "layers"),
    "transformer": ("vocab_size", "d_model", "heads", "layers", "window"),
}


def check_meta(meta: object, path: Path) -> dict:
    """The metadata as a dict the runtime can trust, or one RtgenError naming what is wrong."""
    if not isinstance(meta, dict) or meta.get("format") != "rtgen-ckpt-1":
        raise RtgenError(f"{path}: no rtgen metadata (not exported by rtgen export)")
    vocab = meta.get("vocab")
    version = vocab.get("version") if isinstance(vocab, dict) else None
    if version != T.VOCAB_VERSION:
        raise RtgenError(f"{path}: vocabulary {version!r} is not this rtgen's {T.VOCAB_VERSION!r}")
    kind = meta.get("kind")
    if kind not in NEEDED_CONFIG:
        raise RtgenError(f"{path}: model kind {kind!r} is not one of {', '.join(NEEDED_CONFIG)}")
    cfg = meta.get("config")
    if not isinstance(cfg, dict):
        raise RtgenError(f"{path}: metadata has no model config")
    for key in NEEDED_CONFIG[kind]:
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise RtgenError(
                f"{path}: metadata config.{key} must be a positive integer, not {value!r}"
            )
    if cfg["vocab_size"] != T.VOCAB_SIZE:
        raise RtgenError(
            f"{path}: vocab_size {cfg['vocab_size']} is not this rtgen's {T.VOCAB_SIZE}"
        )
    if kind == "transformer" and cfg["d_model"] % cfg["heads"]:
        raise RtgenError(f"{path}: metadata d_model is not a multiple of heads")
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
    try:
        meta = json.loads(raw)
    except ValueError:
        raise RtgenError(f"{path}: rtgen metadata is not valid JSON") from None
    return check_meta(meta, path)


def _layer_names(prefixes: tuple[str, ...], layers: int) -> list[str]:
    return [f"{prefix}_{i}" for prefix in prefixes for i in range(layers)]


def graph_inputs(kind: str, cfg: dict) -> list[str]:
    """The step graph's input names in order (DESIGN.md model contract). A Transformer takes
    one key and one value ring per layer: slicing a stacked input inside the graph would copy
    it every step."""
    if kind == "lstm":
        return ["token", "h", "c"]
    return ["token", "rope", "bias", *_layer_names(("k_cache", "v_cache"), cfg["layers"])]


def graph_outputs(kind: str, cfg: dict) -> list[str]:
    """The step graph's output names in order. A Transformer returns only the token's key and
    value per layer (1, heads, 1, head_dim): the session writes them into their ring slot."""
    if kind == "lstm":
        return ["logits", "h_out", "c_out"]
    return ["logits", *_layer_names(("k_new", "v_new"), cfg["layers"])]


def state_shapes(kind: str, cfg: dict) -> list[tuple[int, ...]]:
    """The shapes of the two recurrent state tensors a session holds: h and c, or the key and
    value rings of all layers stacked (keys transposed: q @ K^T is then a plain matmul); a
    Transformer graph takes them one layer at a time."""
    if kind == "lstm":
        return [(cfg["layers"], 1, cfg["hidden"])] * 2
    layers, heads, window = cfg["layers"], cfg["heads"], cfg["window"]
    head_dim = cfg["d_model"] // heads
    return [(layers, 1, heads, head_dim, window), (layers, 1, heads, window, head_dim)]


def _input_shape(kind: str, cfg: dict, name: str) -> tuple[int, ...] | None:
    """The shape a state input must have, None for the other inputs."""
    k, v = state_shapes(kind, cfg)
    if kind == "lstm":
        return k if name in ("h", "c") else None
    if name.startswith("k_cache_"):
        return k[1:]
    return v[1:] if name.startswith("v_cache_") else None


def check_graph(sess, meta: dict, path: Path) -> None:  # noqa: ANN001
    """Refuse a graph whose inputs or outputs do not match what its metadata says."""
    kind, cfg = meta["kind"], meta["config"]
    names = [i.name for i in sess.get_inputs()]
    if sorted(names) != sorted(graph_inputs(kind, cfg)):
        raise RtgenError(f"{path}: graph inputs {names} do not match a {kind} step graph")
    outputs = [o.name for o in sess.get_outputs()]
    if outputs != graph_outputs(kind, cfg):
        raise RtgenError(f"{path}: graph outputs {outputs} do not match a {kind} step graph")
    for i in sess.get_inputs():
        want = _input_shape(kind, cfg, i.name)
        if want is not None and tuple(i.shape) != want:
            raise RtgenError(
                f"{path}: graph input {i.name} has shape {i.shape}, metadata says {list(want)}"
            )


def _name_layers(names: list[str], stacked: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each layer of the stacked arrays (views, no copy) under the last of ``names``."""
    layers = [layer for a in stacked for layer in a]
    return dict(zip(names[-len(layers) :], layers))


class RingBinding:
    """A Transformer step graph bound once (IOBinding) to arrays this object owns: the rings,
    the per-position inputs and the outputs. A step writes the token's inputs in place and
    runs; nothing is wrapped, allocated or looked up by name. (``run()`` with a dict of numpy
    arrays cost 80-180 µs more per step on the 4-layer graph, measured side by side: a dozen
    inputs wrapped, outputs allocated.) The bound arrays must stay the same objects: state
    is copied into them. On CUDA, ONNX Runtime copies the host buffers over and the outputs
    back."""

    def __init__(
        self,
        sess,  # noqa: ANN001 - an onnxruntime.InferenceSession
        step_inputs: StepInputs,
        cfg: dict,
    ) -> None:
        self.sess, self.step_inputs = sess, step_inputs
        shapes = state_shapes("transformer", cfg)
        self.rings = [np.zeros(shape, dtype=np.float32) for shape in shapes]
        self.token = np.zeros(1, dtype=np.int64)
        self.inputs = {name: a.copy() for name, a in step_inputs(0).items()}
        self.logits = np.zeros((1, cfg["vocab_size"]), dtype=np.float32)
        one_slot = shapes[1][:3] + (1,) + shapes[1][4:]  # (layers, 1, heads, 1, head_dim)
        self.news = [np.zeros(one_slot, dtype=np.float32) for _ in range(2)]
        self.io = sess.io_binding()
        inputs = {"token": self.token, **self.inputs}
        inputs.update(_name_layers(graph_inputs("transformer", cfg), self.rings))
        outputs = {"logits": self.logits}
        outputs.update(_name_layers(graph_outputs("transformer", cfg), self.news))
        self._bind(self.io.bind_input, inputs)
        self._bind(self.io.bind_output, outputs)

    @staticmethod
    def _bind(bind, arrays: dict[str, np.ndarray]) -> None:  # noqa: ANN001
        for name, a in arrays.items():  # contiguous arrays that outlive the binding
            bind(name, "cpu", 0, a.dtype.type, list(a.shape), a.ctypes.data)

    def step(self, token: int, pos: int) -> np.ndarray:
        self.token[0] = token
        self.step_inputs.fill(pos, self.inputs)
        self.sess.run_with_iobinding(self.io)
        self.step_inputs.store(self.rings, self.news, pos)
        return self.logits[0].copy()  # the bound buffer is overwritten by the next step


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
        check_graph(self.sess, self.meta, path)
        self.providers = self.sess.get_providers()
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"
        self.fell_back = "CUDAExecutionProvider" in self.providers_requested and not self.on_cuda
        if self.fell_back:
            log.warning("CUDA was requested but ONNX Runtime fell back to CPU (%s)", self.providers)
        cfg = self.meta["config"]
        self._shapes = state_shapes(self.kind, cfg)
        if self.kind == "transformer":
            self.window, self.head_dim = cfg["window"], cfg["d_model"] // cfg["heads"]
            self.step_inputs = StepInputs(self.window, self.head_dim)
            self.ring = RingBinding(self.sess, self.step_inputs, cfg)
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
        zeros = [np.zeros(shape, dtype=np.float32) for shape in self._shapes]
        self._set_state(zeros)

    def _set_state(self, arrays: list[np.ndarray]) -> None:
        if self.kind == "transformer":  # the rings are bound to the graph: fill them in place
            for ring, a in zip(self.ring.rings, arrays):
                np.copyto(ring, a)
            self.state = self.ring.rings
        elif self._on_device:  # device-resident state: OrtValues that never leave the GPU
            ort = _ort()
            self.state = [ort.OrtValue.ortvalue_from_numpy(a, "cuda", 0) for a in arrays]
        else:
            self.state = [a.copy() for a in arrays]

    def step(self, token: int) -> np.ndarray:
        """Logits (vocab,) for the next token after ``token``; the state advances."""
        if self.kind == "transformer":
            logits = self.ring.step(token, self.pos)
        elif self.on_cuda:
            logits = self._step_cuda(token)
        else:
            feeds = {"token": np.array([token], dtype=np.int64)}
            feeds.update(zip(("h", "c"), self.state))
            out, *self.state = self.sess.run(None, feeds)
            logits = out[0]
        self.pos += 1
        return logits

    def _step_cuda(self, token: int) -> np.ndarray:
        io = self.sess.io_binding()
        io.bind_cpu_input("token", np.array([token], dtype=np.int64))
        for name, value in zip(("h", "c"), self.state):
            io.bind_ortvalue_input(name, value)
        io.bind_output("logits", "cpu")  # only the logits come back to the host
        for name in self.sess.get_outputs()[1:]:
            io.bind_output(name.name, "cuda")
        self.sess.run_with_iobinding(io)
        logits, *self.state = io.get_outputs()
        return logits.numpy()[0]

    @property
    def _on_device(self) -> bool:
        """An LSTM's state stays on the GPU; a Transformer's rings stay on the host, where
        the session writes each step's keys/values into them."""
        return self.on_cuda and self.kind == "lstm"

    def snapshot(self) -> tuple:
        if self._on_device:
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
