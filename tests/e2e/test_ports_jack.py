"""`rtgen ports` against real JACK MIDI ports, run as the user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import time

from rtgen.io.jackwatch import JackWatch
from tests.support.peers import Keyboard, Synth
from tests.support.play import run_rtgen, wait_for


def test_ports_json_lists_other_clients_output_as_input(keyboard: Keyboard) -> None:
    """Another client's virtual output shows up among rtgen's inputs, and only there."""
    result = run_rtgen("ports", "--api", "jack", "--json", timeout_s=30)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"api", "compiled_apis", "inputs", "outputs"}
    assert data["api"] == "jack"
    assert "jack" in data["compiled_apis"]
    assert keyboard.port in data["inputs"]
    assert keyboard.port not in data["outputs"]


def test_ports_text_output_names_api_and_port(keyboard: Keyboard) -> None:
    """The human-readable listing names the API and the keyboard's port."""
    result = run_rtgen("ports", "--api", "jack", timeout_s=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MIDI API: jack")
    assert f"  {keyboard.port}\n" in result.stdout


def test_ports_without_jack_server_is_one_line_error() -> None:
    """With no JACK server, `rtgen ports --api jack` fails fast: one line, exit 2, no traceback."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": "rtgen-no-such-server", "JACK_NO_START_SERVER": "1"}
    start = time.monotonic()
    result = run_rtgen("ports", "--api", "jack", "--json", env=env, timeout_s=30)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtgen: error: ") and "jack" in lines[0]
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_the_watch_client_wires_two_ports_and_says_what_it_found(
    keyboard: Keyboard, synth: Synth
) -> None:
    """JackWatch.connect (what rtgen/io/jackwiring.py makes a missing cable with): two
    unwired ports are wired ("made", and a message then flows), wired ones are "there",
    and a port that does not exist is "failed"."""
    watch = JackWatch.open("rtgen-test-wiring")
    assert watch is not None
    try:
        assert watch.connect(keyboard.port, synth.port) == "made"
        assert watch.connect(keyboard.port, synth.port) == "there"
        assert watch.connect(keyboard.port, "rtgenNoSuchClient:in") == "failed"
        t0 = time.perf_counter()
        keyboard.send([0x90, 60, 100])
        assert wait_for(lambda: synth.first(t0, lambda m: m[:2] == [0x90, 60]), 2.0)
    finally:
        watch.close()
