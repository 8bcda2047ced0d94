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


ASSETS = Path(__file__).resolve().parents[2] / "rtgen" / "assets"
DEMO = sorted((ASSETS / "demo").glob("*.mid"))[0]


def _eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rtgen", "eval", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("name", ["t.txt", "demo.mid"])
def test_model_with_unknown_suffix_is_the_same_error_as_play(tmp_path: Path, name: str) -> None:
    """--model t.txt or a MIDI file: open_session's message, not a checkpoint loader's."""
    model = tmp_path / name
    model.write_bytes(DEMO.read_bytes() if name.endswith(".mid") else b"hello\n")
    res = _eval(str(DEMO), "--model", str(model))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"rtgen: error: {model}: unknown model format (expected .onnx, .ckpt or .pt)"
    ]


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_nothing_readable_is_an_error_naming_the_reason(tmp_path: Path, as_json: list) -> None:
    """One unreadable file is exit 2 with its reason, like an empty folder, in both modes."""
    bad = tmp_path / "t.txt"
    bad.write_text("hello\n")
    res = _eval(str(bad), *as_json)
    assert res.returncode == 2, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtgen: error: no readable MIDI files: ")
    assert "no MThd header" in lines[0] and res.stdout == ""
