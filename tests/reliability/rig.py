"""The test rig: a keyboard and a synth on JACK, and `rtgen play` as a subprocess.

The synth times every message on arrival on ``time.perf_counter()`` (CLOCK_MONOTONIC, the
same clock in every process on Linux; see :class:`Synth`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rtmidi

from tests.jackrig import KBD, SYNTH, Keyboard, Synth, open_keys  # noqa: F401 - the rig's parts

RTGEN = [sys.executable, "-m", "rtgen"]
LONG = os.environ.get("RTGEN_LONG") == "1"


def pick(short: float, long: float) -> float:
    """The CI figure, or the long one under RTGEN_LONG=1."""
    return long if LONG else short


def jack_ports() -> list[str]:
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10).stdout
    return [line.strip() for line in out.splitlines()]


class Rtgen:
    """`rtgen play` as a subprocess; stderr goes to a file (never a full pipe)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, ports=None):  # noqa: ANN001
        self.err_file = tempfile.NamedTemporaryFile("w+", suffix=".err", delete=False)
        cmd = [*RTGEN, "play", "--api", "jack", "--quiet", *args]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=self.err_file,
            env={**os.environ, **(env or {})},
        )
        self.code: int | None = None
        if ports is not None:
            self.wait_ready(ports)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, list_ports, timeout_s: float = 30.0) -> None:  # noqa: ANN001
        """Until its input and output ports are listed (the model is loaded by then).

        ``list_ports`` must list through clients that already exist: a JACK client opened
        and closed (jack_lsp) while rtgen's input client activates can leave that client
        never scheduled again (JACK 1.9.21/1.9.22, seen here about one start in ten)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr()
            ports = list_ports()
            if any(p.endswith(":rtgen in") for p in ports) and any(
                p.endswith(":rtgen out") for p in ports
            ):
                time.sleep(0.3)  # the loop starts 50 ms after the ports open
                return
            time.sleep(0.05)
        raise AssertionError(f"rtgen play did not open its ports: {self.stderr()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024

    def send_signal(self, sig: int = signal.SIGINT) -> float:
        t = time.perf_counter()
        self.proc.send_signal(sig)
        return t

    def wait(self, timeout_s: float = 15.0) -> int:
        self.code = self.proc.wait(timeout=timeout_s)
        return self.code

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 15.0) -> tuple[int, float]:
        """Signal, wait; (exit code, seconds it took)."""
        t = self.send_signal(sig)
        code = self.wait(timeout_s)
        return code, time.perf_counter() - t

    def stderr(self) -> str:
        self.err_file.flush()
        return Path(self.err_file.name).read_text(errors="replace")

    def stats(self) -> dict[str, float]:
        """The `rtgen: stats k=v ...` line printed on exit."""
        line = re.search(r"rtgen: stats (.*)", self.stderr())
        assert line, self.stderr()
        return {k: float(v) for k, v in (kv.split("=") for kv in line.group(1).split())}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        Path(self.err_file.name).unlink(missing_ok=True)


def grid_errors_ms(times: list[float], step_s: float) -> np.ndarray:
    """Each onset's distance (ms) from a common grid of ``step_s`` fitted to all of them
    (as tests/e2e/test_play.py)."""
    t = np.asarray(times) - times[0]
    phase = np.angle(np.mean(np.exp(2j * np.pi * t / step_s)))
    offset = phase / (2 * np.pi) * step_s
    resid = (t - offset) - np.round((t - offset) / step_s) * step_s
    return np.abs(resid) * 1e3


def wait_for(condition, timeout_s: float, step_s: float = 0.005) -> float | None:  # noqa: ANN001
    """Seconds until ``condition()`` held, or None."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if condition():
            return time.perf_counter() - t0
        time.sleep(step_s)
    return None


def send_paced(kbd: Keyboard, messages: list[list[int]], rate: float, batch: int = 10) -> int:
    """Send at ``rate`` messages a second, ``batch`` at a time; how many rtmidi refused."""
    refused = 0
    t0 = time.perf_counter()
    for i in range(0, len(messages), batch):
        for message in messages[i : i + batch]:
            try:
                kbd.send(message)
            except (ValueError, rtmidi.RtMidiError):
                refused += 1
        delay = t0 + (i + batch) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return refused


def open_notes(got: list[tuple[float, list[int]]], until: float) -> set[tuple[int, int]]:
    """(channel, pitch) of notes sounding at ``until`` by the messages that arrived before."""
    return set(open_keys(got, until=until))
