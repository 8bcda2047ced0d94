"""`rtgen ports` against real JACK MIDI ports, run as the user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import rtmidi


def _rtgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("rtgen")
    cmd = [exe] if exe else [sys.executable, "-c", "from rtgen.cli import main; main()"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=30, env=env or os.environ.copy()
    )


@pytest.fixture
def keyboard(jack_server: str):
    """A fake keyboard: another JACK client with a virtual MIDI output 'rtgenTestKbd:midi_out'."""
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="rtgenTestKbd")
    out.open_virtual_port("midi_out")
    try:
        yield "rtgenTestKbd:midi_out"
    finally:
        out.close_port()
        out.delete()


def test_ports_json_lists_other_clients_output_as_input(keyboard: str) -> None:
    """Another client's virtual output shows up among rtgen's inputs, and only there."""
    result = _rtgen("ports", "--api", "jack", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"api", "compiled_apis", "inputs", "outputs"}
    assert data["api"] == "jack"
    assert "jack" in data["compiled_apis"]
    assert keyboard in data["inputs"]
    assert keyboard not in data["outputs"]


def test_ports_text_output_names_api_and_port(keyboard: str) -> None:
    """The human-readable listing names the API and the keyboard's port."""
    result = _rtgen("ports", "--api", "jack")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MIDI API: jack")
    assert f"  {keyboard}\n" in result.stdout


def test_ports_without_jack_server_is_one_line_error() -> None:
    """With no JACK server, `rtgen ports --api jack` fails fast: one line, exit 2, no traceback."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": "rtgen-no-such-server", "JACK_NO_START_SERVER": "1"}
    start = time.monotonic()
    result = _rtgen("ports", "--api", "jack", "--json", env=env)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtgen: error: ") and "jack" in lines[0]
    assert elapsed < 5, f"took {elapsed:.1f} s"
