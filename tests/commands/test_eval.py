"""rtgen eval with the bundled model on MIDI files that nobody working on rtgen wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_eval_json_on_foreign_midi_prints_both_nlls() -> None:
    """On music21's own test MIDI files, eval reports model and n-gram NLL per token."""
    music21 = pytest.importorskip("music21")
    folder = Path(music21.__file__).parent / "midi" / "testPrimitive"
    res = subprocess.run(
        [sys.executable, "-m", "rtgen", "eval", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["files"] >= 10 and out["tokens"] > 1000
    assert out["nll_bits_per_token"] > 0 and out["baseline_nll_bits_per_token"] > 0
    assert out["model"].endswith("default.onnx")
