"""Can `rtgen play` start deaf? The outside probe of issue 17, repeated N times.

    python scripts/deaf_probe.py --starts 100 [--sync] --out runs/deaf.json

A JACK dummy server in its default asynchronous mode (``--sync``: -S), a test keyboard
and synth (tests/support/peers.py) in this process, then for each start: `rtgen play`
between them, wait until ``jack_lsp -c`` shows rtgen's input wired to the keyboard, one
second more (as the outside probe did), a four-note call, the answer, SIGINT; the exit
line's ``in`` and ``notes_in`` against the 8 messages sent, and what the synth got.
A start is deaf when rtgen heard none of the call, lossy when it heard some of it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtgen.bench.jack import spawn_dummy, stop_server, wait_ready
from tests.support.peers import Keyboard, Synth
from tests.support.play import KBD, SYNTH, Rtgen

CALL = [60, 62, 64, 65]


def wired(env: dict[str, str]) -> bool:
    """rtgen's input port is connected to the keyboard (jack_lsp -c)."""
    out = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, env=env).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(" ") and "rtgen" in line and KBD.split(":")[0] not in line:
            following = []
            for nxt in lines[i + 1 :]:
                if not nxt.startswith(" "):
                    break
                following.append(nxt.strip())
            if any(KBD.split(":")[0] in f for f in following):
                return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=100)
    ap.add_argument("--sync", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    name = f"rtgendeaf-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    proc, env, log = spawn_dummy(name, sync=args.sync)
    if not wait_ready(name, proc, env):
        raise SystemExit("jackd did not start")
    os.environ.update({"JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"})
    kbd, synth = Keyboard(), Synth()
    runs = []
    try:
        for i in range(args.starts):
            t0 = time.perf_counter()
            rt = Rtgen(
                ["--in", KBD, "--out", SYNTH, "--silence", "1", "--seed", str(i)],
                ports=lambda: kbd.ports() + synth.ports(),
            )
            deadline = time.monotonic() + 10
            while not wired(os.environ.copy()) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(1.0)
            t_call = time.perf_counter()
            kbd.play(CALL, 0.25)
            time.sleep(2.0)
            code, _ = rt.stop(signal.SIGINT, timeout_s=10)
            try:
                stats = rt.stats()
            except AssertionError:
                stats = {}
            answer = len(synth.note_ons(t_call))
            run = {
                "start": i,
                "code": code,
                "in": stats.get("in"),
                "notes_in": stats.get("notes_in"),
                "answer_notes": answer,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            runs.append(run)
            rt.kill()
            flag = "DEAF" if run["notes_in"] == 0 else ("lossy" if (run["in"] or 0) < 8 else "")
            print(json.dumps(run), flag, flush=True)
    finally:
        kbd.delete()
        synth.delete()
        stop_server(proc)
    deaf = [r for r in runs if r["notes_in"] == 0]
    lossy = [r for r in runs if r["notes_in"] and (r["in"] or 0) < 8]
    summary = {
        "mode": "sync" if args.sync else "async",
        "starts": len(runs),
        "deaf": len(deaf),
        "lossy": len(lossy),
        "no_answer": sum(r["answer_notes"] == 0 for r in runs),
    }
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
