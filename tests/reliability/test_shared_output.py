"""Two rtgen processes on the same output (issue 17, point 6): the second says so on one
line; one alone, or a second on a port of its own, says nothing of the kind."""

from __future__ import annotations

import signal
import time

from rtgen.io.portclaim import claim_output
from tests.support.play import Rig

WARNING = "another rtgen already plays to"


def test_a_claim_is_held_until_released_and_is_per_port(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    first = claim_output("Synth:in")
    assert first is not None
    assert claim_output("Synth:in") is None  # another open file: flock is per open file
    assert claim_output("Other:in") is not None
    first.close()  # the process ended (the kernel drops the lock)
    assert claim_output("Synth:in") is not None


def test_a_second_rtgen_on_the_same_output_warns_once(rig: Rig) -> None:
    one = rig.start("--seed", "1")
    two = rig.start("--seed", "2")  # its ports look like the first's: wait for its word
    deadline = time.monotonic() + 20
    while WARNING not in two.stderr() and two.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # its signal handlers are installed right before the warning
    for proc in (two, one):
        code, _ = proc.stop(signal.SIGINT, timeout_s=10)
        assert code == 0, proc.stderr()
    assert WARNING not in one.stderr()
    lines = [line for line in two.stderr().splitlines() if WARNING in line]
    assert len(lines) == 1 and "twice" in lines[0], two.stderr()
