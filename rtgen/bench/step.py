"""Model step latency per token, per backend, on the same model and the same tokens.

Backends: ONNX Runtime fp32 and int8, and where torch is importable torch eager (oneDNN on,
and off), and TorchScript. All run one intra-op thread. Each backend is warmed up, then
stepped teacher-forced through held-out tokens; the backends take turns in rounds, so a
burst of load on the machine hits all of them alike rather than one.
"""

from __future__ import annotations

import contextlib
import gc
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgen.bench.models import ModelFiles, checkpoint_model
from rtgen.export.verify import heldout_tokens

BACKENDS = ("ort_fp32", "ort_int8", "torch_eager", "torch_eager_nomkldnn", "torchscript")
WARMUP_STEPS = 200
ROUNDS = 4


@dataclass
class Backend:
    name: str
    session: object  # anything with step(token) -> logits and reset()
    context: Callable[[], AbstractContextManager] = contextlib.nullcontext
    providers: list[str] | None = None


def teacher_tokens(n: int) -> np.ndarray:
    """``n`` held-out tokens (the bundled demo pieces), repeated as often as needed."""
    base = heldout_tokens(100_000)
    return np.resize(base, n)


def time_steps(session, tokens: np.ndarray) -> list[int]:
    """Wall time (ns) of each ``session.step`` over ``tokens``, teacher-forced."""
    out = []
    clock = time.perf_counter_ns
    for tok in tokens.tolist():
        t0 = clock()
        session.step(tok)
        out.append(clock() - t0)
    return out


def onnx_backends(files: ModelFiles, device: str) -> list[Backend]:
    """ONNX Runtime fp32 and int8, where their files exist."""
    from rtgen.engine.session import OnnxSession

    out = []
    for name, path in (("ort_fp32", files.fp32), ("ort_int8", files.int8)):
        if path is not None:
            session = OnnxSession(path, device, threads=1)
            out.append(Backend(name, session, providers=list(session.providers)))
    return out


def torch_backends(files: ModelFiles, workdir: Path) -> list[Backend]:
    """torch eager (oneDNN on and off) and TorchScript from the checkpoint; [] (reasons in
    ``files.skipped``) without torch or a checkpoint."""
    loaded = checkpoint_model(files)
    return [] if loaded is None else _torch_backends(*loaded, workdir)


def _torch_backends(model, meta: dict, workdir: Path) -> list[Backend]:
    import torch

    from rtgen.export.torchscript import export_torchscript
    from rtgen.models.sessions import TorchScriptSession, TorchSession

    torch.set_num_threads(1)

    @contextlib.contextmanager
    def mkldnn_off() -> Iterator[None]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note about TF32 on Intel GPUs
            with torch.backends.mkldnn.flags(enabled=False):
                yield

    on = "mkldnn on" if torch.backends.mkldnn.is_available() else "mkldnn unavailable"
    pt = workdir / "model.pt"
    export_torchscript(model, meta, pt)
    return [
        Backend("torch_eager", TorchSession(model, meta), providers=["torch", on]),
        Backend(
            "torch_eager_nomkldnn",
            TorchSession(model, meta),
            mkldnn_off,
            providers=["torch", "mkldnn off"],
        ),
        Backend("torchscript", TorchScriptSession(pt, threads=1), providers=["torchscript"]),
    ]


def step_latency(
    backends: list[Backend], steps: int, warmup: int = WARMUP_STEPS, rounds: int = ROUNDS
) -> dict[str, np.ndarray]:
    """Per-step wall times (ns) of each backend over ``steps`` teacher-forced tokens."""
    tokens = teacher_tokens(warmup + steps)
    samples: dict[str, list[int]] = {b.name: [] for b in backends}
    for b in backends:
        with b.context():
            b.session.reset()
            time_steps(b.session, tokens[:warmup])
    chunks = np.array_split(tokens[warmup:], max(1, rounds))
    for chunk in chunks:
        for b in backends:
            gc.collect()  # no collection of an earlier round's garbage inside this one
            with b.context():
                samples[b.name] += time_steps(b.session, chunk)
    return {name: np.asarray(v, dtype=np.int64) for name, v in samples.items()}
