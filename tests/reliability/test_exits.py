"""Every way `rtgen play` can end while notes sound: signals, a crash in the planner or in the
scheduler thread (test hooks), and SIGKILL, after which `rtgen panic` clears the synth.

The panic is timed at the synth: from the signal (or the moment the hook raised, which rtgen
prints as perf_counter_ns, the same CLOCK_MONOTONIC as the test's) to the CC123's arrival.
Exit codes: 0 for SIGINT, SIGTERM and SIGHUP; 1 for an exception in any thread.
``RTGEN_LONG=1`` repeats each case three times.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from tests.support.peers import SYNTH, open_notes
from tests.support.play import RTGEN, Rig, pick, wait_for

PANIC_BOUND_S = 0.200
CASES = ["SIGINT", "SIGTERM", "SIGHUP", "planner", "scheduler"]


def _playing(rig: Rig, env: dict[str, str] | None = None):
    """rtgen in continue mode at 240 BPM, playing on after a two-note call."""
    proc = rig.start("--mode", "continue", "--bpm", "240", "--seed", "3", env=env)
    rig.kbd.play([60, 64], 0.25)
    return proc


def _right_after_a_note_on(rig: Rig, timeout_s: float = 8.0) -> bool:
    """Wait until a model note-on arrives (so at least one note sounds right now)."""
    seen = len(rig.synth.note_ons())
    return wait_for(lambda: len(rig.synth.note_ons()) > seen, timeout_s, 0.0005) is not None


@pytest.mark.parametrize("how", CASES)
def test_panic_reaches_the_synth_within_200_ms(rig: Rig, how: str) -> None:
    """On SIGINT, SIGTERM, SIGHUP (exit 0) and on an exception raised inside the planner
    or the scheduler thread (exit 1), CC123 reaches the synth within 200 ms of the signal or
    fault, and no note is left sounding."""
    for _ in range(int(pick(1, 3))):
        rig.synth.clear()
        fault = how in ("planner", "scheduler")
        env = {"RTGEN_TEST_FAULT": how, "RTGEN_TEST_FAULT_AFTER": "8"} if fault else None
        proc = _playing(rig, env)
        if fault:
            code = proc.wait(timeout_s=30)
            found = re.search(rf"RTGEN_TEST_FAULT={how} at t_ns=(\d+)", proc.stderr())
            assert found, proc.stderr()
            t0 = int(found.group(1)) / 1e9
        else:
            assert _right_after_a_note_on(rig), proc.stderr()
            t0 = proc.send_signal(getattr(signal, how))
            code = proc.wait()
        held = open_notes(rig.synth.got, t0)
        t_cc = rig.synth.first_cc123(t0)
        err = proc.stderr()
        latency = None if t_cc is None else (t_cc - t0) * 1e3
        print(
            f"\n{how}: {len(held)} notes sounding at the {'fault' if fault else 'signal'}; "
            f"CC123 at the synth after {latency if latency is None else round(latency, 1)} ms; "
            f"exit {code}; left sounding {rig.synth.sounding()}"
        )
        assert code == (1 if fault else 0), err
        assert latency is not None and latency <= PANIC_BOUND_S * 1e3, err
        assert rig.synth.sounding() == 0, rig.synth.stuck_report()
        if not fault:
            assert held and "Traceback" not in err, err  # notes were really cut off


def test_after_sigkill_rtgen_panic_clears_the_synth(rig: Rig) -> None:
    """SIGKILL leaves notes hanging (nothing can run in the process), and `rtgen panic --out`
    then ends every one of them."""
    proc = _playing(rig)
    assert _right_after_a_note_on(rig), proc.stderr()
    proc.proc.kill()
    proc.wait()
    time.sleep(0.1)
    hanging = rig.synth.sounding()
    res = subprocess.run(
        [*RTGEN, "panic", "--out", SYNTH, "--api", "jack"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    time.sleep(0.3)
    print(f"\nSIGKILL: {hanging} notes left hanging; after `rtgen panic`: {rig.synth.sounding()}")
    assert hanging >= 1  # the kill really left a note on
    assert res.returncode == 0, res.stderr
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()
