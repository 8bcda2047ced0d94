"""One rule for every command that reads MIDI files: a run where every file was skipped is an
error (exit 2, one line), and a run that read some reports the rest as skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rtgen.commands.skips import require_some_read
from rtgen.errors import RtgenError

RTGEN = [sys.executable, "-m", "rtgen"]
DEMO = sorted((Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "demo").glob("*.mid"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*RTGEN, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def notmidi(tmp_path: Path) -> Path:
    bad = tmp_path / "notmidi.mid"
    bad.write_text("hello, I am not a MIDI file\n")
    return bad


@pytest.mark.parametrize(
    "command",
    [
        ["inspect", "{f}"],
        ["inspect", "{f}", "--json"],
        ["eval", "{f}"],
        ["plot", "{f}", "-o", "{tmp}/x.png"],
        ["generate", "--prime", "{f}", "-o", "{tmp}/x.mid"],
    ],
    ids=["inspect", "inspect-json", "eval", "plot", "generate"],
)
def test_every_file_skipped_is_exit_2_with_one_line(
    command: list[str], notmidi: Path, tmp_path: Path
) -> None:
    """inspect, eval, plot and generate on a file that is not MIDI: exit 2, one line with the
    reason, nothing on stdout and nothing written."""
    res = _run(*(a.format(f=notmidi, tmp=tmp_path) for a in command))
    assert res.returncode == 2, (res.stdout, res.stderr)
    expected = f"rtgen: error: no readable MIDI files: {notmidi}: not a MIDI file"
    assert res.stderr.strip().splitlines() == [expected + " (no MThd header)"], res.stderr
    assert res.stdout == "" and not (tmp_path / "x.png").exists()
    assert not (tmp_path / "x.mid").exists()


def test_a_folder_of_unreadable_files_counts_the_rest(tmp_path: Path) -> None:
    """Every file of a folder skipped: the first reason, and how many more."""
    for name in ("a.mid", "b.mid", "c.mid"):
        (tmp_path / name).write_bytes(b"nope")
    res = _run("inspect", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip().endswith("(and 2 more)"), res.stderr


def test_some_read_is_a_report_with_the_skips(notmidi: Path) -> None:
    """One readable file beside the bad one: exit 0, the bad one listed as skipped."""
    res = _run("inspect", str(DEMO[0]), str(notmidi), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["files"] == 1 and out["skipped"] == 1
    assert out["skipped_files"][0]["path"] == str(notmidi)


def test_the_rule() -> None:
    """Nothing given is not this rule's business (an empty folder has its own message);
    all skipped is; some read is not."""
    require_some_read([], 0)
    require_some_read(["x.mid: bad"], 2)
    with pytest.raises(RtgenError, match=r"^no readable MIDI files: x.mid: bad \(and 1 more\)$"):
        require_some_read(["x.mid: bad", "y.mid: bad"], 2)
