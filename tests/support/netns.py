"""Run a Python program inside a private network namespace that has only a loopback interface.

Ableton Link finds its peers by UDP multicast on every network interface. A Link test must
never reach the machine's network (or a musician's session on it), so every Link trial runs
here: ``unshare --net`` makes a namespace whose only interface is ``lo``, which is brought up
with multicast on and the multicast range routed to it:

    ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo

Before the program starts, the namespace is checked to hold exactly one interface (``lo``).
Needs root (as in CI) or, elsewhere, unprivileged user namespaces (``unshare --user
--map-root-user --net``). When no namespace can be made, the test is skipped with the reason,
except under CI (``CI`` set and non-empty), where it fails: a Link test never passes by
skipping there.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import required

REPO = Path(__file__).resolve().parents[2]
SETUP = (
    "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
    ' && test "$(ip -o link show | wc -l)" -eq 1'
)
SETUP_FAILED = 97  # the prelude's exit code when the namespace could not be set up


def unavailable(reason: str) -> None:
    required.unavailable("a private network namespace", reason)


def _prefix(unshare: list[str]) -> list[str]:
    # $0 and "$@" are the program and its arguments: no quoting of paths by hand
    script = f'{SETUP} || exit {SETUP_FAILED}; exec "$0" "$@"'
    return [*unshare, "sh", "-c", script]


@functools.lru_cache(maxsize=1)
def _namespace_command() -> tuple[tuple[str, ...], str]:
    """The ``unshare`` command that works here, or ``((), why none does)``."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return (), f"{', '.join(missing)} not found (util-linux, iproute2)"
    tries = [["unshare", "--net"]]
    if os.geteuid() != 0:
        tries.append(["unshare", "--user", "--map-root-user", "--net"])
    errors = []
    for unshare in tries:
        probe = subprocess.run(
            [*_prefix(unshare), "true"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return tuple(unshare), ""
        tail = " | ".join(probe.stderr.strip().splitlines()[-2:]) or f"exit {probe.returncode}"
        errors.append(f"{' '.join(unshare)}: {tail}")
    return (), "; ".join(errors)


def require_netns() -> tuple[str, ...]:
    """The namespace command, or skip (fail under CI) with why none can be made."""
    command, why = _namespace_command()
    if not command:
        unavailable(why)
    return command


def run_python(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh loopback-only namespace, from the repository root.

    Returns the finished process (stdout and stderr as text); a program that fails is the
    caller's to report. Skips (fails under CI) when no namespace can be made.
    """
    unshare = list(require_netns())
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [*_prefix(unshare), sys.executable, *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode == SETUP_FAILED:
        unavailable(f"the namespace's loopback could not be set up: {proc.stderr.strip()}")
    return proc
