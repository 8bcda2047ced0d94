"""A CPU burner: busy processes that load every core while the bench measures timing.

Processes (not threads), so the load is real CPU contention, not GIL contention. They are
spawned, not forked, from a process that holds JACK and ONNX Runtime threads.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

START_TIMEOUT_S = 20.0


def _burn(started, stop) -> None:
    started.release()
    x = 0
    while not stop.is_set():
        for _ in range(20_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class CpuBurner:
    """``with CpuBurner() as burner:`` runs ``burner.processes`` busy processes."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or max(2, os.cpu_count() or 2)
        ctx = mp.get_context("spawn")
        self._started = ctx.Semaphore(0)
        self._stop = ctx.Event()
        self._procs = [
            ctx.Process(target=_burn, args=(self._started, self._stop), daemon=True)
            for _ in range(self.processes)
        ]

    def __enter__(self) -> CpuBurner:
        for proc in self._procs:
            proc.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        for _ in self._procs:  # every burner is busy before the measurement starts
            self._started.acquire(timeout=max(0.1, deadline - time.monotonic()))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
