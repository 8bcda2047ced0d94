"""Where the bundled default model lives (inside the package: nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

from rtgen.errors import RtgenError

ASSETS = Path(__file__).parent / "assets"
# Preference order: the full-precision ONNX graph, then the checkpoint (needs torch).
DEFAULT_MODELS = ("default.onnx", "default.ckpt")
# What the daemon plays on CPU: the int8 graph steps faster (p99 189 vs 285 µs on a loaded
# 2-core machine, docs/performance.md) and picks the same top token 99% of the time (KL 8.8e-4
# nats).
PLAY_MODEL_CPU = "default.int8.onnx"


def default_model() -> Path:
    """The bundled model at full precision: what eval, info and export describe."""
    for name in DEFAULT_MODELS:
        if (ASSETS / name).is_file():
            return ASSETS / name
    raise RtgenError(f"the bundled model is missing from {ASSETS}; reinstall rtgen")


DEFAULT_CRITIC = "default.critic.onnx"


def default_critic() -> Path:
    """The bundled critic that picks the best of N candidate answers (training/critic.py)."""
    return ASSETS / DEFAULT_CRITIC


def default_play_model(device: str = "auto") -> Path:
    """The bundled model the daemon plays: int8 on CPU, full precision on CUDA (dynamic
    int8 LSTM kernels exist only on CPU)."""
    if will_use_cuda(device):
        return default_model()
    int8 = ASSETS / PLAY_MODEL_CPU
    return int8 if int8.is_file() else default_model()


def will_use_cuda(device: str) -> bool:
    """Whether a session opened for ``device`` (auto, cpu, cuda) runs on CUDA: the one rule
    for which bundled model plays (and which one `rtgen bench` times as the daemon's)."""
    return device == "cuda" or (device == "auto" and cuda_available())


def cuda_available() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()
