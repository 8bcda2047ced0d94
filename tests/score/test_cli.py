"""rtgen score from the command line: JSON for scripts, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rtgen.io.midifile import write_midi
from rtgen.score.runner import SYSTEMS
from tests.score.helpers import line

DEMO = Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "demo"


def _score(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rtgen", "score", *args], capture_output=True, text=True, timeout=300
    )


def test_json_on_a_demo_file_has_every_system_and_metric() -> None:
    """Two seeds on one bundled piece: exit 0, one JSON object, figures for all systems."""
    res = _score(str(DEMO / "oneills1850_0001-0050_13.mid"), "--seeds", "2", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["files"] == 1 and out["calls"] == 5 and out["seeds"] == 2
    assert set(out["systems"]) == set(SYSTEMS)
    rtgen, truth, copy = (out["systems"][s] for s in ("rtgen", "truth", "copy"))
    assert rtgen["answers"] == 10 and truth["answers"] == 5
    for key in ("notes", "polyphony", "in_key", "ioi_l1", "echo", "copy", "diversity"):
        assert rtgen[key] is not None, key
    assert copy["copy"] == 1.0 and copy["echo"] == 1.0 and truth["pc_l1_truth"] == 0.0
    assert rtgen["nll_bits_per_token"] > 0 and out["systems"]["ngram"]["nll_bits_per_token"] > 0


def test_a_file_that_is_not_midi_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Nothing readable: exit 2 with the reason on one line, nothing on stdout."""
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    res = _score(str(bad), "--json")
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtgen: error: no readable MIDI files: ")
    assert "no MThd header" in lines[0]


def test_a_file_with_no_usable_call_is_exit_2(tmp_path: Path) -> None:
    """A readable file whose every window is left out by the filter: exit 2, one line."""
    short = tmp_path / "short.mid"
    write_midi(line(60, 62, 64, 65, step=1.0), short)
    res = _score(str(short))
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtgen: error: no calls in 1 file: ")
