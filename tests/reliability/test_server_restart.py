"""The JACK server goes away under a running `rtgen play` and comes back 2.7 s later (issue
17, point 1, as the outside run did it): rtgen says so on one line within a second, keeps
running (the same PID: it starts itself again, rtgen/io/jackrestart.py), its ports exist
again within 2 s of the server's and the peers' return, wired to them, and the next call is
answered; Ctrl-C then ends it cleanly with nothing left sounding.

The keyboard and the synth are processes of their own (tests/support/peerproc.py), new ones
after the restart, and this process never opens a JACK client: a libjack whose server died
cannot reach the next one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from rtgen.bench.jack import spawn_dummy, stop_server, wait_ready
from tests.support.jack import jack_mode
from tests.support.play import Rtgen

KBD, SYNTH = "rtgenProcKbd", "rtgenProcSynth"
CALL = [60, 62, 64, 65, 67, 65, 64, 62]
BEAT_S = 0.5


class PeerHung(Exception):
    """A test peer stopped rewriting its port list: hung in libjack (a client started while
    others open and close can be left unscheduled, JACK 1.9.21/1.9.22; seen once in 12
    runs of the lost-again test). A fault of the test's peer, not of rtgen."""


class Peers:
    """The keyboard and synth processes of one server's life."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self._start()

    def _start(self) -> None:
        folder, env = self.folder, self.env
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.peerproc", role, name, str(folder)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            for role, name in (("synth", SYNTH), ("kbd", KBD))
        ]

    def ports(self) -> list[str]:
        out = []
        for name in (SYNTH, KBD):
            path = self.folder / f"{name}.ports"
            if path.exists():
                out += path.read_text().split("\n")
        return [p for p in out if p]

    def wait(self, test, timeout_s: float = 15.0) -> float | None:
        """perf_counter when ``test(ports)`` first held, or None."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if test(self.ports()):
                return time.perf_counter()
            time.sleep(0.02)
        return None

    def hung(self, stale_s: float = 2.0) -> bool:
        """A peer whose port list (rewritten every 50 ms, by the keyboard between calls it
        plays) is older than ``stale_s``."""
        now = time.time()
        return any(
            now - (self.folder / f"{name}.ports").stat().st_mtime > stale_s
            for name in (SYNTH, KBD)
            if (self.folder / f"{name}.ports").exists()
        )

    def replace(self) -> None:
        """New peer processes (in a folder of their own) for hung ones."""
        self.stop()
        self.folder = self.folder.with_name(self.folder.name + "+")
        self.folder.mkdir()
        self._start()

    def play(self, pitches: list[int]) -> None:
        """The keyboard plays ``pitches``, one a beat; PeerHung if a peer hangs meanwhile."""
        text = f"{BEAT_S} " + " ".join(map(str, pitches))
        (self.folder / f"{KBD}.play").write_text(text)
        start = time.monotonic()
        due = start + len(pitches) * BEAT_S + 1.0  # the keyboard lists no ports while it plays
        while not (self.folder / f"{KBD}.played").exists() and time.monotonic() < start + 20:
            if time.monotonic() > due and self.hung():
                raise PeerHung(f"a test peer in {self.folder} stopped listing its ports")
            time.sleep(0.02)
        (self.folder / f"{KBD}.played").unlink()

    def got(self, since: float = 0.0) -> list[tuple[float, list[int]]]:
        path = self.folder / f"{SYNTH}.got"
        if not path.exists():
            return []
        rows = [line.split() for line in path.read_text().splitlines() if line]
        return [(float(r[0]), [int(b) for b in r[1:]]) for r in rows if float(r[0]) >= since]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()  # a client whose server died may hang in libjack
                proc.wait(timeout=5)


def _ours(ports: list[str]) -> bool:
    return any(p.endswith(":rtgen in") for p in ports) and any(
        p.endswith(":rtgen out") for p in ports
    )


def _sounding(got: list[tuple[float, list[int]]]) -> int:
    held: dict[tuple[int, int], int] = {}
    for _, m in got:
        if len(m) == 3 and m[0] & 0xE0 == 0x80:
            key = (m[0] & 15, m[1])
            on = m[0] & 0xF0 == 0x90 and m[2] > 0
            held[key] = max(0, held.get(key, 0) + (1 if on else -1))
    return sum(held.values())


RESTARTS = 3  # the acceptance: killed and restarted three times, answered after each
LATE_PEERS, LATE_S = 2, 2.5  # after this restart the peers come back this long after the server


def test_rtgen_plays_on_after_the_jack_server_comes_back(tmp_path: Path) -> None:
    """Three times: the server SIGTERMed mid-jam, back 2.7 s later with new peers; rtgen
    notices within a second, its ports are back within 2 s of the peers', a call is
    answered; then Ctrl-C, 0 sounding, the last exit line counting 3 restarts. After the
    second restart the peers come back 2.5 s after the server, so rtgen waits for them
    (it says so) and they, coming up while it waits, are heard and play."""
    name = f"rtgenrestart-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    sync = jack_mode() == "sync"
    server, env, log = spawn_dummy(name, sync=sync)
    assert wait_ready(name, server, env), log.read_text(errors="replace")
    env = {**env, "JACK_NO_START_SERVER": "1"}
    life = tmp_path / "life0"
    life.mkdir()
    peers = Peers(life, env)
    rt = None
    try:
        assert peers.wait(lambda p: f"{KBD}:out" in p and f"{SYNTH}:in" in p), "no peers"
        rt = Rtgen(["--in", KBD, "--out", SYNTH, "--seed", "3"], env=env, ports=peers.ports)
        pid = rt.pid
        time.sleep(0.5)
        for k in range(1, RESTARTS + 1):
            t_loss = time.perf_counter()
            os.killpg(server.pid, signal.SIGTERM)
            while _went_away(rt) < k and time.perf_counter() - t_loss < 3:
                time.sleep(0.01)
            noticed = time.perf_counter() - t_loss
            server.wait(timeout=10)
            peers.stop()
            assert _went_away(rt) == k, rt.stderr()
            assert noticed < 1.0, noticed

            time.sleep(max(0.0, t_loss + 2.7 - time.perf_counter()))
            server, env2, log = spawn_dummy(name, sync=sync)
            assert wait_ready(name, server, env2), log.read_text(errors="replace")
            t_back = time.perf_counter()
            if k == LATE_PEERS:  # the synth and keyboard come back after rtgen: it waits
                time.sleep(LATE_S)
            life = tmp_path / f"life{k}"
            life.mkdir()
            peers = Peers(life, env)
            t_peers = peers.wait(lambda p: f"{KBD}:out" in p and f"{SYNTH}:in" in p)
            assert t_peers is not None, "no peers after the restart"
            t_ours = peers.wait(_ours)
            assert t_ours is not None, f"{rt.stderr()}\nrtgen's threads:\n{rt.stacks()}"
            print(
                f"restart {k}: noticed in {noticed * 1e3:.0f} ms; server back -> peers "
                f"{t_peers - t_back:.2f} s, -> rtgen's ports {t_ours - t_back:.2f} s "
                f"({t_ours - t_peers:.2f} s after the peers)"
            )
            assert t_ours - max(t_back, t_peers) < 2.0
            if k == LATE_PEERS:
                assert f"waiting for '{SYNTH}' to come back" in rt.stderr(), rt.stderr()
            assert rt.alive() and rt.pid == pid
            assert _answers_a_call(peers), _unanswered(rt, peers)
        code, _ = rt.stop(signal.SIGINT, timeout_s=10)
        assert code == 0, rt.stderr()
        time.sleep(0.2)
        assert _sounding(peers.got()) == 0
        # an exit line for each jam: before the first loss, and after each restart
        lines = re.findall(r"rtgen: stats (.*)", rt.stderr())
        print("exit lines:\n" + "\n".join(lines))
        assert len(lines) == RESTARTS + 1, rt.stderr()
        last = dict(kv.split("=") for kv in lines[-1].split())
        assert last["server_restarts"] == str(RESTARTS) and last["sounding"] == "0", lines[-1]
    finally:
        if rt is not None:
            rt.kill()
        peers.stop()
        stop_server(server)
        log.unlink(missing_ok=True)


def _went_away(rt: Rtgen) -> int:
    """How many times rtgen said the server went away (one line each)."""
    return sum(
        "JACK server went away" in line and "plays on" in line for line in rt.stderr().splitlines()
    )


def _answers_a_call(peers: Peers) -> bool:
    """Once rtgen's ports are up: the keyboard plays the call; the synth gets an answer.
    Peers found hung (PeerHung) are replaced once, and rtgen must find the new ones."""
    for attempt in (1, 2):
        time.sleep(0.5)  # wired: rtgen's ports appear as it connects to the peers'
        t_call = time.perf_counter()
        try:
            peers.play(CALL)
            time.sleep(4 * BEAT_S)
            answered = any(m[0] & 0xF0 == 0x90 and m[2] for _, m in peers.got(t_call))
            if not answered and peers.hung():
                raise PeerHung(f"a test peer in {peers.folder} stopped listing its ports")
            return answered
        except PeerHung as exc:
            if attempt == 2:
                raise
            print(f"\n{exc}: replaced")
            peers.replace()
            assert peers.wait(lambda p: f"{KBD}:out" in p and f"{SYNTH}:in" in p), "no peers"
            time.sleep(1.0)  # rtgen's port check (every 0.2 s) finds them and reconnects
    return False


def _unanswered(rt: Rtgen, peers: Peers) -> str:
    """What a failed call leaves to read: every port and its connections (jack_lsp -c, taken
    while rtgen still runs: is rtgen wired to the peers?); rtgen stopped with Ctrl-C, so its
    last exit line says whether it heard the call (notes_in) and sent an answer (sent); what
    the synth got."""
    try:
        wiring = subprocess.run(
            ["jack_lsp", "-c"], env=peers.env, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        wiring = f"(jack_lsp -c failed: {exc})"
    try:
        rt.stop(signal.SIGINT, timeout_s=10)
    except subprocess.TimeoutExpired:
        pass  # a hung rtgen: its stderr so far, then the finally kills it
    return (
        f"synth got {len(peers.got())} messages; ports and connections:\n{wiring}\n"
        f"rtgen's stderr:\n{rt.stderr()}"
    )


def _said_within(rt: Rtgen, text: str, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if text in rt.stderr():
            return True
        time.sleep(0.05)
    return False


def test_a_server_lost_again_while_rtgen_waits_for_its_ports(tmp_path: Path) -> None:
    """The server goes away, comes back without the peers, and goes away again while rtgen
    waits for them: rtgen sees it (its waiting client alone never could), starts again,
    and once the server and the peers are back it answers; Ctrl-C ends it cleanly with 2
    restarts counted."""
    name = f"rtgenrewait-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    sync = jack_mode() == "sync"
    server, env, log = spawn_dummy(name, sync=sync)
    assert wait_ready(name, server, env), log.read_text(errors="replace")
    env = {**env, "JACK_NO_START_SERVER": "1"}
    (tmp_path / "life0").mkdir()
    peers = Peers(tmp_path / "life0", env)
    rt = None
    try:
        assert peers.wait(lambda p: f"{KBD}:out" in p and f"{SYNTH}:in" in p), "no peers"
        rt = Rtgen(["--in", KBD, "--out", SYNTH, "--seed", "3"], env=env, ports=peers.ports)
        time.sleep(0.5)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        peers.stop()
        server, env2, log = spawn_dummy(name, sync=sync)  # back, without the peers
        assert wait_ready(name, server, env2), log.read_text(errors="replace")
        assert _said_within(rt, f"waiting for '{SYNTH}' to come back", 15.0), rt.stderr()
        os.killpg(server.pid, signal.SIGTERM)  # gone again while rtgen waits
        server.wait(timeout=10)
        assert _said_within(rt, "went away again", 2.0), rt.stderr()
        time.sleep(1.0)
        server, env2, log = spawn_dummy(name, sync=sync)
        assert wait_ready(name, server, env2), log.read_text(errors="replace")
        (tmp_path / "life2").mkdir()
        peers = Peers(tmp_path / "life2", env)
        assert peers.wait(lambda p: f"{KBD}:out" in p and f"{SYNTH}:in" in p), "no peers"
        assert peers.wait(_ours) is not None, f"{rt.stderr()}\nrtgen's threads:\n{rt.stacks()}"
        assert _answers_a_call(peers), _unanswered(rt, peers)
        code, _ = rt.stop(signal.SIGINT, timeout_s=10)
        assert code == 0, rt.stderr()
        lines = re.findall(r"rtgen: stats (.*)", rt.stderr())
        last = dict(kv.split("=") for kv in lines[-1].split())
        assert last["server_restarts"] == "2" and last["sounding"] == "0", last
    finally:
        if rt is not None:
            rt.kill()
        peers.stop()
        stop_server(server)
