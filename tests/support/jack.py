"""A private JACK dummy server for the tests, so real MIDI ports work without a sound card.

A test that asks for the ``jack_server`` fixture gets the ``jack`` marker (``-m "not jack"``
leaves it out). When JACK cannot start, the test is skipped with the reason, except under CI
(``CI`` set and non-empty), where it fails: in CI an end-to-end test must never pass by
skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from rtgen.bench.jack import START_TIMEOUT_S, spawn_dummy, stop_server, wait_ready
from tests.support.required import unavailable


def mark_jack_tests(items: list[pytest.Item]) -> None:
    """Give the ``jack`` marker to every test that uses the ``jack_server`` fixture."""
    for item in items:
        if "jack_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jack)


def _unavailable(reason: str) -> None:
    unavailable("JACK", reason)


def jack_mode() -> str:
    """The test server's mode: ``sync`` (jackd -S, the default) or ``async`` (JACK2's own
    default, as users run it): RTGEN_JACK_MODE. CI runs the JACK tests in both."""
    mode = os.environ.get("RTGEN_JACK_MODE", "sync")
    if mode not in ("sync", "async"):
        raise ValueError(f"RTGEN_JACK_MODE must be sync or async, not {mode!r}")
    return mode


def dummy_server() -> Iterator[str]:
    """A JACK dummy server with a unique name (48 kHz, 64 frames: 1.33 ms periods).

    While it runs, JACK_DEFAULT_SERVER names it in this process and in every subprocess.
    Yields the server name.
    """
    missing = [tool for tool in ("jackd", "jack_wait") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not found (apt-get install jackd2)")
    name = f"rtgentest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    proc, env, log_path = spawn_dummy(name, sync=jack_mode() == "sync")
    try:
        if not wait_ready(name, proc, env):
            what = (
                f"exited with code {proc.returncode}"
                if proc.returncode is not None
                else f"did not answer within {START_TIMEOUT_S:g} s"
            )
            stop_server(proc)
            tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-3:])
            _unavailable(f"jackd -n {name} {what}: {tail}")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("JACK_DEFAULT_SERVER", name)
            mp.setenv("JACK_NO_AUDIO_RESERVATION", "1")
            mp.setenv("JACK_NO_START_SERVER", "1")
            yield name
    finally:
        stop_server(proc)
        log_path.unlink(missing_ok=True)


def jack_ports() -> list[str]:
    """Every port on the server, by `jack_lsp`.

    Only once rtgen's ports are up: a JACK client opened and closed (jack_lsp) while another
    client activates can leave that client never scheduled again (see ``Rtgen.wait_ready``).
    """
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10).stdout
    return [line.strip() for line in out.splitlines()]
