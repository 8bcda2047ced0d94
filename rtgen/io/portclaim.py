"""One rtgen per output port: a second `rtgen play` feeding the same synth is told so.

Two rtgen processes on the same ports both answer every call, and the player hears every
answer twice with no word from either (issue 17). The MIDI APIs rtgen uses cannot list who
else is connected to a port, so the rule is rtgen's own: each `rtgen play` holds an
advisory lock (flock) named after the output port it plays to, for as long as it runs. The
lock lives in the user's runtime folder; the kernel drops it when the process ends, however
it ends (kill -9 too), so a stale lock never blocks anyone.

    claim = claim_output("Synth:in")   # None: another rtgen already plays there
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO


def _lock_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"rtgen-{os.getuid()}-ports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def claim_output(port_name: str) -> IO | None:
    """An open lock file held while rtgen plays to ``port_name`` (keep it open), or None
    when another rtgen process holds it. Any OS error: an empty claim (rtgen plays on)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here, no claim
        return open(os.devnull, "a")

    digest = hashlib.sha256(port_name.encode("utf-8", "replace")).hexdigest()[:16]
    try:
        f = open(_lock_dir() / f"{digest}.lock", "a+")  # held for the jam
    except OSError:
        return open(os.devnull, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    except OSError:
        pass
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()} {port_name}\n")
    f.flush()
    return f
