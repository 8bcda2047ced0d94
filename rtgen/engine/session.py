"""The daemon's model session: an rtgen ONNX step graph in ONNX Runtime (CPU or CUDA).

    session = OnnxSession(path, device="auto")
    logits = session.step(token)          # (vocab,) float32; the state advances
    snap = session.snapshot(); ...; session.restore(snap)   # the planner's rollback
    session.reset()                       # a fresh piece

ONNX sessions run with one intra-op and one inter-op thread, sequential execution and all
graph optimisations (DESIGN.md). An LSTM steps through plain ``run()`` on CPU (zero-copy
with numpy); on CUDA its state stays on the device through IOBinding and only logits come
back. A Transformer steps through an IOBinding made once (RingBinding): its rings stay in
host arrays that the graph only reads, and the session writes each token's keys/values.
The graph's names and shapes come from :mod:`rtgen.graph_contract`. The torch and
TorchScript sessions live beside the models (``rtgen.models.sessions``); ``rtgen.sessions``
picks one of them by a file's suffix. This module never imports torch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rtgen.errors import RtgenError
from rtgen.graph_contract import (
    batch_axis,
    check_graph,
    graph_inputs,
    graph_outputs,
    load_ort,
    read_onnx_meta,
    state_shapes,
)
from rtgen.ropetable import StepInputs

log = logging.getLogger("rtgen.session")
DEVICES = ("auto", "cpu", "cuda")
WARMUP_STEPS = 3  # steps run (and forgotten) when a session opens on CUDA


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
        sess,
        step_inputs: StepInputs,
        cfg: dict,
        rebind: bool = False,
    ) -> None:
        self.sess, self.step_inputs = sess, step_inputs
        # On CUDA, bind_input copies a host buffer to the device when it is bound (ORT
        # issues 5857, 15438): later writes to it would go unseen, so every step binds its
        # inputs again. On the CPU the graph reads the bound host memory itself.
        self.rebind = rebind
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
        self._inputs = inputs
        self._bind(self.io.bind_input, inputs)
        self._bind(self.io.bind_output, outputs)

    @staticmethod
    def _bind(bind, arrays: dict[str, np.ndarray]) -> None:
        for name, a in arrays.items():  # contiguous arrays that outlive the binding
            bind(name, "cpu", 0, a.dtype.type, list(a.shape), a.ctypes.data)

    def step(self, token: int, pos: int) -> np.ndarray:
        self.token[0] = token
        self.step_inputs.fill(pos, self.inputs)
        if self.rebind:
            self._bind(self.io.bind_input, self._inputs)
        self.sess.run_with_iobinding(self.io)
        self.step_inputs.store(self.rings, self.news, pos)
        return self.logits[0].copy()  # the bound buffer is overwritten by the next step


class OnnxSession:
    """Steps an rtgen ONNX graph; state lives in numpy arrays (CPU) or OrtValues (CUDA)."""

    def __init__(self, path: Path, device: str = "auto", threads: int = 1) -> None:
        ort = load_ort()
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
        self.providers_requested = self._providers(ort, device, self.meta)
        self.sess = ort.InferenceSession(str(path), so, providers=self.providers_requested)
        check_graph(self.sess, self.meta, path)
        self.providers = self.sess.get_providers()
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"
        # N candidates in one step (rtgen.engine.candidates): a batched LSTM graph on the CPU
        self.batched = self.kind == "lstm" and batch_axis(self.sess) and not self.on_cuda
        self.fell_back = "CUDAExecutionProvider" in self.providers_requested and not self.on_cuda
        if self.fell_back:
            log.warning("CUDA was requested but ONNX Runtime fell back to CPU (%s)", self.providers)
        cfg = self.meta["config"]
        self._shapes = state_shapes(self.kind, cfg)
        if self.kind == "transformer":
            self.window, self.head_dim = cfg["window"], cfg["d_model"] // cfg["heads"]
            self.step_inputs = StepInputs(self.window, self.head_dim)
            self.ring = RingBinding(self.sess, self.step_inputs, cfg, rebind=self.on_cuda)
        self.reset()
        if self.on_cuda:  # the first CUDA runs create handles: not inside the first plan
            for _ in range(WARMUP_STEPS):
                self.step(0)
            self.reset()

    @staticmethod
    def _providers(ort, device: str, meta: dict) -> list[str]:
        if device not in DEVICES:
            raise RtgenError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
        have = ort.get_available_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in have:
            raise RtgenError(
                "--device cuda: this ONNX Runtime has no CUDA provider "
                "(install rtgen[gpu] instead of rtgen[cpu])"
            )
        if (meta.get("export") or {}).get("quantized") == "int8":
            # DynamicQuantizeLSTM and MatMulInteger on uint8 have no CUDA kernels: the
            # graph would run op by op between the two, or not at all
            if device == "cuda":
                log.warning("%s is an int8 model: int8 runs on the CPU", meta.get("kind"))
            return ["CPUExecutionProvider"]
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
            ort = load_ort()
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

    def step_batch(
        self, tokens: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(N, vocab) logits and the new (h, c) of N states (layers, N, hidden) stepped by
        N tokens in one run; the session's own state is not touched (``batched`` graphs)."""
        logits, h, c = self.sess.run(None, {"token": tokens, "h": state[0], "c": state[1]})
        return logits, [h, c]

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
