"""Reliability tests: the real `rtgen play` over a private JACK server (tests/e2e's fixture).

Short by default (CI: the whole folder in a few minutes); ``RTGEN_LONG=1`` runs the long
versions that the README's reliability table quotes (100,000 fuzz messages, a 10 s flood, a
10 minute soak, ...). Every test prints the figure it measured; run with ``-s`` to see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.e2e.conftest import jack_server  # noqa: F401
from tests.reliability.rig import KBD, SYNTH, Keyboard, Rtgen, Synth


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "jack_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jack)


@pytest.fixture
def rig(jack_server: str, tmp_path: Path) -> Iterator[SimpleNamespace]:  # noqa: F811
    """A keyboard and a synth on JACK; ``start(*args, env=...)`` runs `rtgen play` between
    them (killed at the end if still running)."""
    kbd, synth = Keyboard(), Synth()
    procs: list[Rtgen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Rtgen:
        proc = Rtgen(
            ["--in", KBD, "--out", SYNTH, *args], env, ports=lambda: kbd.ports() + synth.ports()
        )
        procs.append(proc)
        return proc

    yield SimpleNamespace(kbd=kbd, synth=synth, start=start, tmp=tmp_path)
    for proc in procs:
        proc.kill()
    kbd.delete()
    synth.delete()
