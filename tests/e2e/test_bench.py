"""`rtgen bench`: every figure is reported, over a real JACK server, on a small model.

The figures are checked to exist and to be positive numbers, never against the targets:
benchmarks report, they do not pass or fail on a machine's speed (TESTING.md).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from rtgen.bench.models import prepare_models
from rtgen.bench.onset import _match, drift_ms
from tests.support.play import RTGEN
from tests.support.required import unavailable

BACKENDS = ("ort_fp32", "ort_int8", "torch_eager", "torch_eager_nomkldnn", "torchscript")
POSITIVE = [
    *(f"step_us.{b}.{s}" for b in BACKENDS for s in ("p50", "p99", "max")),
    "plan_ms.p50",
    "plan_ms.p99",
    *(f"plan_ms_{bpm}.{s}" for bpm in (120, 240) for s in ("p50", "p99")),
    "listener_us.p99",
    *(f"candidates_{n}.p99" for n in (1, 4, 8)),
    *(f"candidates_{n}.per_candidate_vs_single" for n in (4, 8)),
    "harmony.p99",  # harmonic steering on, and off beside it (its cost: their difference)
    "harmony.off_p99",
    *(f"onset_ms.{c}.{s}" for c in ("idle", "loaded") for s in ("p50", "p99", "max")),
    "rss_mb.start",
    "rss_mb.end",
    "ratio_torch_eager_over_ort",
    "transformer.p99_start_us",
    "transformer.p99_end_us",
    "transformer.ratio",
    "machine.cores",
]
TEXT = ["machine.cpu", "machine.python", "machine.onnxruntime", "machine.torch"]


def _get(figures: dict, dotted: str) -> object:
    value: object = figures
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"missing {dotted}"
        value = value[part]
    return value


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained LSTM, exported with its int8 sibling by the real CLI."""
    from tests.support.checkpoints import make_ckpt

    folder = tmp_path_factory.mktemp("bench")
    ckpt = make_ckpt(folder, "lstm")
    res = subprocess.run(
        [*RTGEN, "export", str(ckpt), "--quantize", "int8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return ckpt.with_suffix(".onnx")


def test_bench_json_reports_every_figure(
    jack_server: str, small_model: Path, tmp_path: Path
) -> None:
    """rtgen bench --json prints one object holding every figure as a positive number
    (drift as a finite one), measured on the JACK server it found; --plot writes a PNG."""
    png = tmp_path / "bench.png"
    res = subprocess.run(
        [*RTGEN, "bench", "--model", str(small_model), "--seconds", "3", "--json"]
        + ["--plot", str(png)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr
    figures = json.loads(res.stdout)
    for key in POSITIVE:
        value = _get(figures, key)
        assert isinstance(value, (int, float)) and value > 0, (key, value)
    for key in TEXT:
        assert isinstance(_get(figures, key), str), key
    assert math.isfinite(figures["drift_ms"])
    assert figures["skipped"] == {}
    assert figures["onset_ms"]["jack"] == {"server": jack_server, "started_by_bench": False}
    assert figures["onset_ms"]["idle"]["lost"] == 0
    stalls = figures["onset_ms"]["idle"]["machine_stalls"]  # what the machine did meanwhile
    assert stalls["count"] >= stalls["over_5ms"] >= 0 and stalls["longest_ms"] >= 0, stalls
    assert figures["transformer"]["source"].startswith("random weights")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_device_cuda_without_cuda_is_one_line(small_model: Path) -> None:
    """--device cuda on a machine without CUDA is a one-line error with exit code 2."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    res = subprocess.run(
        [*RTGEN, "bench", "--model", str(small_model), "--device", "cuda", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0].lower(), res.stderr


def test_missing_siblings_are_reasons_not_errors(small_model: Path, tmp_path: Path) -> None:
    """An .onnx alone (no NAME.int8.onnx, no NAME.ckpt) leaves int8 and torch out, each
    with a reason."""
    alone = tmp_path / "alone.onnx"
    shutil.copyfile(small_model, alone)
    files = prepare_models(alone, tmp_path)
    assert files.fp32 == alone and files.int8 is None and files.ckpt is None
    assert set(files.skipped) == {"ort_int8", *BACKENDS[2:]}
    assert "alone.int8.onnx" in files.skipped["ort_int8"]
    assert "alone.ckpt" in files.skipped["torch_eager"]


def test_onset_matching_and_drift() -> None:
    """Arrivals are matched to their own note by pitch; drift compares the two ends."""
    deadlines, pitches = [0, 100, 200], [48, 49, 48]
    got = [((0x90, 49, 100), 130), ((0x80, 48, 0), 140), ((0x90, 48, 100), 205)]
    got.insert(0, ((0x90, 48, 100), 10))
    sent = [(5, (0x90, 48, 100)), (120, (0x90, 49, 100)), (201, (0x90, 48, 100))]
    assert _match(deadlines, pitches, got, sent) == [(0, 10, 5), (100, 130, 120), (200, 205, 201)]
    t = np.arange(0, 20_000_000_000, 125_000_000)
    errors = np.where(t < 10e9, 1_000_000, 1_500_000)
    assert drift_ms(t, errors, 20.0) == pytest.approx(0.5)


@pytest.mark.jack
def test_onsets_on_a_private_jack_server_when_none_answers() -> None:
    """With no server reachable, the bench starts its own JACK dummy server, measures on
    it, and stops it (no jackd of that name is left)."""
    if shutil.which("jackd") is None:
        unavailable("JACK", "jackd not found")
    code = (
        "import json\n"
        "from rtgen.bench.jack import jack_server\n"
        "from rtgen.bench.onset import measure_onsets\n"
        "with jack_server() as s:\n"
        "    fig, _ = measure_onsets(1.0)\n"
        "print(json.dumps({'jack': s.describe(), 'onset': fig}))\n"
    )
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"nobody-{uuid.uuid4().hex[:8]}"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["jack"]["started_by_bench"] and out["jack"]["period_frames"] == 64
    assert out["onset"]["notes"] == 8 and out["onset"]["lost"] == 0
    assert out["onset"]["p99"] > 0
    left = subprocess.run(["pgrep", "-f", out["jack"]["server"]], capture_output=True)
    assert left.returncode == 1, "the private jackd is still running"
