"""`rtgen` as a subprocess, and the rig: `rtgen play` between a test keyboard and a test synth.

    def test_something(rig: Rig) -> None:        # the ``rig`` fixture (tests/conftest.py)
        proc = rig.start("--seed", "1")          # --in KBD --out SYNTH, once its ports are up
        rig.kbd.play([60, 62, 64], 0.5)
        code, took = proc.stop()
        assert rig.synth.sounding() == 0, rig.synth.stuck_report()

``RTGEN_LONG=1`` picks the long form of a test's figures (:func:`pick`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.peers import KBD, SYNTH, Keyboard, Synth

RTGEN = [sys.executable, "-m", "rtgen"]
LONG = os.environ.get("RTGEN_LONG") == "1"


def pick(short: float, long: float) -> float:
    """The CI figure, or the long one under RTGEN_LONG=1."""
    return long if LONG else short


def run_rtgen(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60.0
) -> subprocess.CompletedProcess:
    """The installed `rtgen` command (or the module, if it is not on PATH), run to its end
    as a user runs it; output captured as text."""
    exe = shutil.which("rtgen")
    cmd = [exe] if exe else [sys.executable, "-c", "from rtgen.cli import main; main()"]
    env = env or os.environ.copy()
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout_s, env=env)


class Rtgen:
    """`rtgen play` as a subprocess; stderr goes to a file (never a full pipe)."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        ports: Callable[[], list[str]] | None = None,
    ) -> None:
        self.err_file = tempfile.NamedTemporaryFile("w+", suffix=".err", delete=False)
        # The suite's calls have no rests inside: one beat of silence ends them, as the
        # timing bounds assume (play's default waits 2.25 beats; tests/engine/test_turns.py).
        cmd = [*RTGEN, "play", "--api", "jack", "--quiet", "--silence", "1", *args]
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

    def wait_ready(self, list_ports: Callable[[], list[str]], timeout_s: float = 30.0) -> None:
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

    def stacks(self) -> str:
        """Every thread's C stack of the running rtgen (gdb, when installed): where a hung
        rtgen hangs, for a failure message."""
        if shutil.which("gdb") is None or not self.alive():
            return "(no stacks: no gdb here, or rtgen has exited)"
        cmd = ["gdb", "-p", str(self.pid), "-batch", "-ex", "thread apply all bt 25"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return "(gdb did not finish in 30 s)"
        lines = res.stdout.splitlines()
        return "\n".join(line for line in lines if line.startswith(("#", "Thread")))

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


class Rig:
    """A keyboard and a synth on JACK, and every `rtgen play` started between them (killed
    by :meth:`close` if still running). ``tmp`` is the test's own folder."""

    def __init__(self, tmp: Path) -> None:
        self.kbd, self.synth, self.tmp = Keyboard(KBD), Synth(SYNTH), tmp
        self.procs: list[Rtgen] = []

    def start(self, *args: str, env: dict[str, str] | None = None, virtual: bool = False) -> Rtgen:
        """`rtgen play ARGS` from the keyboard to the synth (``virtual``: with its own
        ``--virtual`` ports, wired by the test), once its ports are up."""
        ends = ["--virtual"] if virtual else ["--in", KBD, "--out", SYNTH]
        proc = Rtgen([*ends, *args], env, ports=lambda: self.kbd.ports() + self.synth.ports())
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
        self.kbd.delete()
        self.synth.delete()


def wait_for(
    condition: Callable[[], object], timeout_s: float, step_s: float = 0.005
) -> float | None:
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
        refused += kbd.send_many(messages[i : i + batch])
        delay = t0 + (i + batch) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return refused
