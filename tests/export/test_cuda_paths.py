"""The CUDA session's logic, checked on the CPU provider (no test needs a GPU): a rebinding
Transformer step reads each step's inputs, int8 graphs never ask for CUDA, and a CUDA start
that fell back to the CPU plays the int8 model there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

import rtgen.sessions as sessions
from rtgen.engine.session import OnnxSession


def test_a_rebinding_ring_steps_as_a_bound_once_ring_does(ckpts: dict, tmp_path: Path) -> None:
    """On CUDA the ring rebinds its inputs every step; on the CPU that must change nothing."""
    from rtgen.export.onnx import export_onnx
    from rtgen.models.checkpoint import load_model

    model, meta = load_model(ckpts["transformer"])
    path = tmp_path / "t.onnx"
    export_onnx(model, meta, path)
    once, again = OnnxSession(path, "cpu"), OnnxSession(path, "cpu")
    again.ring.rebind = True
    tokens = np.random.default_rng(0).integers(0, 300, 40)
    for t in tokens:
        assert np.array_equal(once.step(int(t)), again.step(int(t)))


def test_int8_graphs_open_on_the_cpu_provider_only() -> None:
    ort = SimpleNamespace(get_available_providers=lambda: ["CUDAExecutionProvider", "CPU"])
    int8 = {"kind": "lstm", "export": {"quantized": "int8"}}
    for device in ("auto", "cuda"):
        assert OnnxSession._providers(ort, device, int8) == ["CPUExecutionProvider"]
    assert OnnxSession._providers(ort, "auto", {"kind": "lstm"})[0] == "CUDAExecutionProvider"


def test_a_cuda_start_that_fell_back_plays_the_int8_model_on_the_cpu(monkeypatch) -> None:
    opened = []

    def fake_open(path, device="auto", threads=1):
        opened.append((Path(path).name, device))
        return SimpleNamespace(fell_back=device != "cpu")

    monkeypatch.setattr(sessions, "open_session", fake_open)
    monkeypatch.setattr("rtgen.assets.will_use_cuda", lambda device: device != "cpu")
    session = sessions.open_play_session(None, "cuda")
    assert opened == [("default.onnx", "cuda"), ("default.int8.onnx", "cpu")]
    assert not session.fell_back
    opened.clear()
    sessions.open_play_session(Path("mine.onnx"), "cuda")  # the user's own file: as asked
    assert opened == [("mine.onnx", "cuda")]
