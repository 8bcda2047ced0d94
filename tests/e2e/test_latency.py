"""`--latency-ms N` over JACK: rtgen's answers arrive at the synth N ms before their deadlines.

The same call is answered twice, without and with ``--latency-ms 40``; each onset's arrival at
the test synth is judged against the deadline the planner gave it (the session's log replayed,
tests/support/timing.py). With 40 ms, the arrivals move 40 ms earlier: a synth that sounds
40 ms late then sounds on the grid.
"""

from __future__ import annotations

import signal
import time

import numpy as np

from rtgen.replay import replay
from tests.support.play import Rig
from tests.support.timing import deadline_errors_ms

BEAT_S = 0.5  # 120 BPM, rtgen's default tempo
CALL = [60, 64, 67, 72, 71, 67, 65, 62]
LATENCY_MS = 40.0


def _answer(rig: Rig, name: str, *args: str) -> tuple[np.ndarray, int, dict]:
    """Signed arrival - deadline (ms) of every model onset of one answered call, the planned
    onsets lost, and rtgen's exit stats."""
    log = rig.tmp / f"{name}.jsonl"
    rig.synth.clear()
    proc = rig.start("--seed", "5", "--log", str(log), *args)
    rig.kbd.play(CALL, BEAT_S)
    time.sleep(BEAT_S * 8 + 1.5)  # the two-bar answer and a rest
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    planned = [(t, m) for t, m in replay(log).sent if m[0] & 0x0F == 0]  # the model's channel
    _, errors, lost = deadline_errors_ms(list(rig.synth.got), planned)
    return errors, lost, proc.stats()


def test_latency_ms_sends_the_answer_that_much_earlier(rig: Rig) -> None:
    base, lost0, _ = _answer(rig, "plain")
    early, lost1, stats = _answer(rig, "early", "--latency-ms", str(LATENCY_MS))
    shift = float(np.median(base) - np.median(early))
    print(
        f"{len(base)} / {len(early)} onsets; arrival - deadline median {np.median(base):.2f} ms "
        f"plain, {np.median(early):.2f} ms with --latency-ms {LATENCY_MS:g}: "
        f"{shift:.2f} ms earlier; spread p99 {np.percentile(np.abs(early + LATENCY_MS), 99):.2f}"
        f" ms; late sends {stats.get('late')}"
    )
    assert len(base) >= 4 and len(early) >= 4
    assert lost0 == 0 and lost1 == 0, (lost0, lost1)
    assert abs(shift - LATENCY_MS) <= 1.5, (base, early)
    # every onset, not only the median: none was sent late (its beat was planned early too)
    assert np.percentile(np.abs(early + LATENCY_MS), 99) <= 2.0, early
