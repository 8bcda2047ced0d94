"""After the JACK server went away: start rtgen again in a fresh process, and there wait for
the server and the --in/--out ports to come back (issue 17, point 1).

Why a fresh process: a libjack whose server died cannot reach the server started again in
the same process (rtgen/io/jackwatch.py has the measurement). So `rtgen play`, once its jam
has shut down, replaces itself (``os.execve``: the same PID, so a supervisor or a terminal
sees one rtgen go on) with the same command line and RTGEN_SERVER_RESTARTS counting up;
the new process loads the model, waits for the server (:func:`wait_for_server`, a libjack
client opened every POLL_S until one opens), then for the ports (play_cmd), and plays on.

    restart_self()                            # never returns (or an RtgenError)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rtgen.errors import RtgenError
from rtgen.io.jackwatch import libjack, open_client

RESTARTS_ENV = "RTGEN_SERVER_RESTARTS"  # how many times this jam started again
POLL_S = 0.2  # how often the server is looked for (it is back within this of its return)


def restarts() -> int:
    """How many times this `rtgen play` started again after the server went away."""
    try:
        return max(0, int(os.environ.get(RESTARTS_ENV, "0")))
    except ValueError:
        return 0


def restart_self() -> None:
    """Replace this process with the same `rtgen play` command, one restart further on, started
    as it was: the console script itself (its own interpreter), ``python -m rtgen``, or
    else this interpreter on rtgen's entry point. An exec that fails is an RtgenError."""
    env = {**os.environ, RESTARTS_ENV: str(restarts() + 1)}
    sys.stdout.flush()
    sys.stderr.flush()
    script = sys.argv[0]
    if os.path.basename(script) == "rtgen" and os.access(script, os.X_OK):
        path, argv = script, [script, *sys.argv[1:]]
    elif script.endswith("__main__.py"):
        path, argv = sys.executable, [sys.executable, "-m", "rtgen", *sys.argv[1:]]
    else:
        entry = "import sys; from rtgen.cli import main; sys.argv[0] = 'rtgen'; main()"
        path, argv = sys.executable, [sys.executable, "-c", entry, *sys.argv[1:]]
    try:
        os.execve(path, argv, env)
    except OSError as exc:
        raise RtgenError(f"could not start again after the JACK server came back: {exc}") from None


def server_answers() -> bool:
    """Whether a JACK server answers now (a client opened and closed at once). libjack's
    own complaints while none runs go nowhere (stderr is pointed at /dev/null meanwhile)."""
    lib = libjack()
    if lib is None:
        return False
    with _quiet_stderr():
        client = open_client(lib, "rtgen-probe")
        if client:
            lib.jack_client_close(client)
    return bool(client)


def wait_for_server(say: Callable[[str], None], poll_s: float = POLL_S) -> None:
    """Until a JACK server answers (Ctrl-C ends the wait: KeyboardInterrupt)."""
    if server_answers():
        return
    say("waiting for the JACK server to come back (Ctrl-C to stop)")
    while not server_answers():
        time.sleep(poll_s)


def segment_path(path: Path | None) -> Path | None:
    """--record and --log of a jam that started again: ``jam.mid`` -> ``jam.1.mid``, so the
    part before the server went away is kept."""
    n = restarts()
    if path is None or n == 0:
        return path
    return path.with_name(f"{path.stem}.{n}{path.suffix}")


class _quiet_stderr:
    """File descriptor 2 to /dev/null for a moment (libjack writes there from C)."""

    def __enter__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
