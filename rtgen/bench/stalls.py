"""Machine stalls: when the machine itself stopped running processes, measured beside rtgen.

`rtgen bench` runs these canaries beside its idle onset run (so its figures say what the
machine did meanwhile), and the timing tests beside theirs (to tell the machine's lateness
from rtgen's).

A virtual machine's CPUs are threads on a host that may run something else for a few
milliseconds (steal time; seen here up to 28% and stalls of 10 ms on both CPUs at once).
No process in the guest can be on time through that, so a timing test that fails on it
tests the host. :class:`MachineStalls` runs one canary process pinned to each CPU that sleeps
1 ms in a loop and records every wake-up later than ``threshold_ms``: a stall is a moment
when a plain process on that CPU could not run. A late event of rtgen's is *the machine's*
only when every CPU's canary stalled over it at once (the whole machine stopped, as a host's
steal does): one busy core excuses nothing, as rtgen could have run on another. Any other
late event is rtgen's own, and fails the test.

The canaries are separate processes, so rtgen's own faults (a garbage collection, a thread
waiting for the GIL, a lock held by the planner) never show up in them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

# The canary: pinned to one CPU, sleep 1 ms, keep (start, lateness) of every late wake-up;
# written out as JSON on SIGTERM. perf_counter is CLOCK_MONOTONIC, as rtgen's and the synth's.
_CANARY = """
import json, os, signal, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
threshold, out, stalls, stop = float(sys.argv[2]), sys.argv[3], [], []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print("ready", flush=True)
while not stop:
    t = time.perf_counter()
    time.sleep(0.001)
    late = time.perf_counter() - t - 0.001
    if late > threshold:
        stalls.append((t + 0.001, late))
with open(out, "w") as f:
    json.dump(stalls, f)
"""


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list:
    """The spans covered by both lists of spans (each list sorted, its spans disjoint or
    overlapping: every pair is intersected, the lists are short)."""
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                out.append((lo, hi))
    return sorted(out)


class MachineStalls:
    """Canary processes, one per CPU, from ``start()`` to ``stop()`` (or a ``with`` block).

    ``stalls`` is a list of (start seconds on perf_counter, length seconds), all CPUs;
    ``by_cpu`` the same per CPU."""

    def __init__(self, threshold_ms: float = 1.0) -> None:
        self.threshold_s = threshold_ms / 1e3
        self.stalls: list[tuple[float, float]] = []
        self.by_cpu: list[list[tuple[float, float]]] = []
        self._procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self) -> MachineStalls:
        for cpu in sorted(os.sched_getaffinity(0)):
            fd, name = tempfile.mkstemp(suffix=".stalls.json")
            os.close(fd)
            proc = subprocess.Popen(
                [sys.executable, "-c", _CANARY, str(cpu), str(self.threshold_s), name],
                stdout=subprocess.PIPE,
                text=True,
            )
            self._procs.append((proc, Path(name)))
        for proc, _ in self._procs:
            assert proc.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> list[tuple[float, float]]:
        for proc, _ in self._procs:
            proc.send_signal(signal.SIGTERM)
        for proc, path in self._procs:
            proc.wait(timeout=10)
            proc.stdout.close()
            mine = sorted(tuple(s) for s in json.loads(path.read_text() or "[]"))
            self.by_cpu.append(mine)
            self.stalls += mine
            path.unlink(missing_ok=True)
        self._procs.clear()
        self.stalls.sort()
        return self.stalls

    def __enter__(self) -> MachineStalls:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self._procs:
            self.stop()

    def over(self, start: float, end: float) -> float:
        """Seconds of the longest time within [start, end] during which every CPU's canary
        was stalled at once (0.0 if none)."""
        common: list[tuple[float, float]] | None = None
        for cpu in self.by_cpu or [self.stalls]:
            spans = [(max(t, start), min(t + s, end)) for t, s in cpu if t < end and t + s > start]
            common = spans if common is None else _intersect(common, spans)
            if not common:
                return 0.0
        return max((b - a for a, b in common or []), default=0.0)

    def longest(self) -> float:
        return max((s for _, s in self.stalls), default=0.0)

    def excuses(self, at: float, late_ms: float, bound_ms: float) -> bool:
        """True when an event due at ``at`` (seconds) that came ``late_ms`` late was held up
        by the machine: a stall overlapping the time it was waiting to go out, long enough
        that without it the event would have been within ``bound_ms``."""
        stall = self.over(at - 0.002, at + late_ms / 1e3)
        return stall * 1e3 >= late_ms - bound_ms

    def held_up(self, arrival: float, error_ms: float, bound_ms: float) -> bool:
        """True when an event that arrived at ``arrival`` (seconds) ``error_ms`` off its time
        is past ``bound_ms`` and the machine excuses it. The error is taken as lateness (a
        note cannot be sent early by more than its send-ahead): it was due at arrival - error."""
        error_ms = float(error_ms)
        return error_ms > bound_ms and self.excuses(arrival - error_ms / 1e3, error_ms, bound_ms)

    def judge(self, times: list[float], errors_ms, bound_ms: float) -> tuple[list[float], int]:
        """Events (arrival ``times``, seconds) more than ``bound_ms`` off their grid: the
        errors (ms) that are rtgen's own, and how many the machine's stalls excuse."""
        own, machine = [], 0
        for t, e in zip(times, errors_ms):
            if self.held_up(t, e, bound_ms):
                machine += 1
            elif e > bound_ms:
                own.append(round(float(e), 2))
        return own, machine

    def describe(self) -> dict:
        """For `rtgen bench --json`: how often and how long the machine stalled."""
        return {
            "over_ms": self.threshold_s * 1e3,
            "count": len(self.stalls),
            "over_5ms": sum(s > 0.005 for _, s in self.stalls),
            "longest_ms": round(self.longest() * 1e3, 2),
        }

    def summary(self) -> str:
        d = self.describe()
        return (
            f"machine stalls over {d['over_ms']:g} ms: {d['count']} "
            f"(longest {d['longest_ms']:.1f} ms, {d['over_5ms']} over 5 ms)"
        )
