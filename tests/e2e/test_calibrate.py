"""`rtgen calibrate` over JACK: a test peer that echoes 25 ms late reads 25 +- 1 ms, stored.

The peer (tests/support/echo.py) sends every message it gets back out 25 ms after it
arrived; `rtgen calibrate` runs as a user runs it, from the peer's output back to its
input, with its store in the test's own folder (RTGEN_CONFIG_DIR).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.echo import Echo
from tests.support.peers import Keyboard, Synth
from tests.support.play import run_rtgen

DELAY_MS = 25.0
LINE = re.compile(
    r"^latency (-?[\d.]+) ms \(spread p10-p90 (-?[\d.]+)-(-?[\d.]+) ms, (\d+) probes.*"
    r"transport ([\d.]+) ms\); stored for '(.+)'$"
)


@pytest.fixture
def echo(jack_server: str) -> Iterator[Echo]:
    peer = Echo(DELAY_MS / 1000)
    try:
        yield peer
    finally:
        peer.delete()


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "RTGEN_CONFIG_DIR": str(tmp_path)}


def test_calibrate_reads_the_peers_25_ms_and_stores_it(echo: Echo, tmp_path: Path) -> None:
    res = run_rtgen(
        "calibrate", "--api", "jack", "--in", echo.out_port, "--out", echo.in_port,
        env=_env(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip()
    print(line)
    found = LINE.match(line)
    assert found, line
    latency, p10, p90, probes = (float(found.group(i)) for i in range(1, 5))
    assert abs(latency - DELAY_MS) <= 1.0, line
    assert probes == 24 and p10 <= latency <= p90, line
    assert found.group(6) == echo.in_port

    # the peer kept its own delay (what the calibration is judged against); a peer thread
    # preempted now and then on a loaded machine moves single echoes, not the median
    kept = sorted((sent - arrival) * 1000 for arrival, sent, _ in echo.sent)
    assert kept and abs(kept[len(kept) // 2] - DELAY_MS) < 0.2, kept

    stored = json.loads((tmp_path / "latency.json").read_text())
    entry = stored[echo.in_port]
    assert abs(entry["latency_ms"] - latency) <= 0.051
    assert entry["via"] == echo.out_port and entry["probes"] == 24
    assert entry["spread_ms"] == pytest.approx(p90 - p10, abs=0.11)

    # every probe's note-off went out, then CC123 on channel 16
    notes = [m for _, m in echo.got if m[0] & 0xF0 in (0x80, 0x90)]
    ons = [m[1] for m in notes if m[0] == 0x9F and m[2] > 0]
    offs = {m[1] for m in notes if m[0] == 0x8F}
    assert sorted(set(ons)) == list(range(24)) and offs >= set(ons)
    assert echo.got[-1][1] == [0xBF, 123, 0]

    # --show lists it, --forget removes it
    show = run_rtgen("calibrate", "--show", env=_env(tmp_path))
    assert show.returncode == 0 and echo.in_port in show.stdout, show
    gone = run_rtgen("calibrate", "--forget", "TestEcho", env=_env(tmp_path))
    assert gone.returncode == 0, gone.stderr
    assert json.loads((tmp_path / "latency.json").read_text()) == {}


def test_no_echo_is_one_line_and_exit_2(keyboard: Keyboard, synth: Synth, tmp_path: Path) -> None:
    """--in never echoes (a keyboard nobody plays): one line, exit 2, nothing stored, and
    the synth is left with nothing sounding."""
    res = run_rtgen(
        "calibrate", "--api", "jack", "--in", keyboard.port, "--out", synth.port,
        env=_env(tmp_path), timeout_s=30,
    )  # fmt: skip
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("rtgen: error: no echo on --in"), lines
    assert "is --out's thru routed back?" in lines[0]
    assert not (tmp_path / "latency.json").exists()
    assert synth.sounding() == 0, synth.stuck_report()
    assert synth.first_cc123(0.0) is not None


def test_play_uses_the_calibration_so_the_synth_sounds_on_the_grid(
    rig, echo: Echo, tmp_path: Path
) -> None:
    """Calibrated against the 25 ms peer, `rtgen play --out` that peer (no --latency-ms)
    sends everything the stored latency early: what the peer passes on (as a synth sounds
    it, 25 ms after it came) arrives within 2 ms (p99) of each note's deadline on rtgen's
    grid, judged at the test synth behind the peer against the replayed log's deadlines."""
    import signal
    import subprocess
    import time

    import numpy as np

    from rtgen.replay import replay
    from tests.support.play import Rtgen
    from tests.support.timing import deadline_errors_ms

    env = _env(tmp_path)
    res = run_rtgen(
        "calibrate", "--api", "jack", "--in", echo.out_port, "--out", echo.in_port, env=env
    )
    assert res.returncode == 0, res.stderr
    wired = subprocess.run(["jack_connect", echo.out_port, rig.synth.port], capture_output=True)
    assert wired.returncode == 0, wired.stderr
    log = tmp_path / "jam.jsonl"
    proc = Rtgen(
        ["--in", rig.kbd.port, "--out", echo.in_port, "--seed", "5", "--log", str(log)],
        env={"RTGEN_CONFIG_DIR": str(tmp_path)},
        ports=lambda: rig.kbd.ports() + rig.synth.ports(),
    )
    rig.procs.append(proc)
    rig.kbd.play([60, 64, 67, 72, 71, 67, 65, 62], 0.5)
    time.sleep(0.5 * 8 + 1.5)
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    replayed = replay(log)
    assert replayed.settings.latency_ms == pytest.approx(DELAY_MS, abs=1.0)  # the stored one
    planned = [(t, m) for t, m in replayed.sent if m[0] & 0x0F == 0]
    _, errors, lost = deadline_errors_ms(list(rig.synth.got), planned)
    print(
        f"{len(errors)} onsets through the peer: |arrival - deadline| p50 "
        f"{np.percentile(np.abs(errors), 50):.2f} p99 {np.percentile(np.abs(errors), 99):.2f} ms"
    )
    assert len(errors) >= 4 and lost == 0
    assert np.percentile(np.abs(errors), 99) <= 2.0, errors
