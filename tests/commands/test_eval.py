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


JSON_KEYS = [
    "model",
    "files",
    "skipped",
    "skipped_files",
    "tokens",
    "notes",
    "nll_bits_per_token",
    "nll_bits_per_note",
    "baseline",
    "baseline_nll_bits_per_token",
    "baseline_nll_bits_per_note",
    "ratio_to_baseline",
]


def _eval_with_terminal_stderr(*args: str) -> tuple[int, str, str]:
    """rtgen eval with stderr on a pseudo-terminal (as a user sees it), stdout on a pipe."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # 30 rows x 100 columns: a fresh pseudo-terminal has 0 columns, where tqdm draws nothing
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtgen", "eval", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    err = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    code = proc.wait(timeout=300)
    os.close(leader)
    return code, out, err.decode(errors="replace")


def test_progress_on_a_terminal_leaves_json_unchanged() -> None:
    """On a terminal eval shows a progress bar in tokens on stderr; --json on stdout is the
    same object as without a terminal (same keys, same figures), and without a terminal
    stderr stays empty."""
    folder = str(DEMO.parent)
    plain = _eval(folder, "--json")
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    code, out, err = _eval_with_terminal_stderr(folder, "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(plain.stdout)
    assert list(json.loads(out)) == JSON_KEYS
    assert "eval: 100%" in err and "tok" in err, err
