"""A JACK server to measure on: the one that is reachable, or a private dummy one.

    with jack_server() as server:      # server.name, server.started (True: ours, stopped after)
        ...open rtgen.io.ports on the "jack" API...

A private server is a JACK dummy driver at 48 kHz with 64-frame periods (1.33 ms), as the
end-to-end tests use (docs: TESTING.md). Its name is unique; while it runs it is this
process's JACK_DEFAULT_SERVER. Close every port before the server stops: libjack frees old
clients when a new one is made after its server died, and closing one then crashes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rtgen.errors import RtgenError

START_TIMEOUT_S = 5.0
PERIOD_FRAMES, RATE = 64, 48000


@dataclass
class JackServer:
    name: str | None  # None: the default server of this environment
    started: bool  # True: started by the bench (and stopped after)

    def describe(self) -> dict:
        d = {"server": self.name or os.environ.get("JACK_DEFAULT_SERVER", "default")}
        d["started_by_bench"] = self.started
        if self.started:
            d.update({"driver": "dummy", "rate": RATE, "period_frames": PERIOD_FRAMES})
        return d


def reachable() -> bool:
    """Does a JACK server answer (without autostarting one)?"""
    from rtgen.io.ports import list_ports

    try:
        list_ports("jack")
    except RtgenError:
        return False
    return True


def spawn_dummy(name: str, sync: bool = True) -> tuple[subprocess.Popen, dict[str, str], Path]:
    """Start ``jackd -n NAME`` on the dummy driver (RATE, PERIOD_FRAMES); its output goes
    to a log file. Returns the process, the environment that names the server, the log.
    Its own session: a Ctrl-C at the terminal reaches rtgen (or pytest) first. ``sync``:
    synchronous mode (-S); False: JACK2's default, asynchronous, as users run it."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
    log_path = Path(tempfile.gettempdir()) / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            # -S, synchronous: each cycle waits for every client. In JACK2's default
            # asynchronous mode a client that finishes late (a virtual machine's host took
            # the CPU) has its MIDI read a cycle early or late, so a message arrives twice or
            # never (seen here: a note-on twice, counted as a note left sounding).
            ["jackd", *(["-S"] if sync else []), "-n", name, "-d", "dummy"]
            + ["-r", str(RATE), "-p", str(PERIOD_FRAMES)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, env, log_path


def wait_ready(name: str, proc: subprocess.Popen, env: dict[str, str]) -> bool:
    """Poll until the server answers (jack_wait -c); False if jackd exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            check = subprocess.run(
                ["jack_wait", "-s", name, "-c"], env=env, capture_output=True, text=True, timeout=2
            )
        except subprocess.TimeoutExpired:  # a probe caught by the server's start hangs
            continue  # (once in 26 runs of the restart test, async server): killed, again
        if "running" in check.stdout and "not running" not in check.stdout:
            return True
        time.sleep(0.05)
    return False


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate jackd, killing it if it does not exit within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def jack_server() -> Iterator[JackServer]:
    """The reachable server, or a private dummy server for the duration; RtgenError if
    neither (jackd missing, or it would not start)."""
    if reachable():
        yield JackServer(os.environ.get("JACK_DEFAULT_SERVER"), started=False)
        return
    missing = [tool for tool in ("jackd", "jack_wait") if shutil.which(tool) is None]
    if missing:
        raise RtgenError(f"no JACK server reachable and {', '.join(missing)} not found (jackd2)")
    name = f"rtgenbench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    proc, env, log_path = spawn_dummy(name)
    try:
        if not wait_ready(name, proc, env):
            tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-2:])
            raise RtgenError(f"jackd -n {name} did not start: {tail or 'no output'}")
        os.environ.update({"JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"})
        yield JackServer(name, started=True)
    finally:
        stop_server(proc)
        log_path.unlink(missing_ok=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
