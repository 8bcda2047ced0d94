"""The fixtures every test folder shares (their parts are in tests/support/).

- ``tiny_dataset``: a small prepared dataset, built once per test session.
- ``jack_server``: a private JACK dummy server (tests/support/jack.py); a test that uses it
  gets the ``jack`` marker, and under CI fails instead of skipping when JACK cannot start.
- ``rig``: a test keyboard and a test synth on that server, and `rtgen play` between them.
- ``synth``, ``keyboard``: one test peer alone, for tests of rtgen's own ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.jack import dummy_server, mark_jack_tests
from tests.support.peers import Keyboard, Synth
from tests.support.play import Rig


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_jack_tests(items)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 Essen folk tunes prepared into shards by the real training.prepare."""
    from training.prepare import main as prepare

    out = tmp_path_factory.mktemp("data") / "tiny"
    rc = prepare(
        [
            "--source",
            "corpus",
            "--collections",
            "essenFolksong",
            "--limit",
            "80",
            "--out",
            str(out),
            "--workers",
            "2",
        ]
    )
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """A JACK dummy server with a unique name (48 kHz, 64 frames: 1.33 ms periods), named by
    JACK_DEFAULT_SERVER while it runs. Yields the server name."""
    yield from dummy_server()


@pytest.fixture
def rig(jack_server: str, tmp_path: Path) -> Iterator[Rig]:
    """A keyboard and a synth on JACK; ``rig.start(*args, env=...)`` runs `rtgen play`
    between them (killed at the end if still running)."""
    rig = Rig(tmp_path)
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def synth(jack_server: str) -> Iterator[Synth]:
    """A test synth on JACK ("rtgenTestSynth:in") that keeps everything it gets."""
    peer = Synth()
    try:
        yield peer
    finally:
        peer.delete()


@pytest.fixture
def keyboard(jack_server: str) -> Iterator[Keyboard]:
    """A test keyboard on JACK ("rtgenTestKbd:out")."""
    peer = Keyboard()
    try:
        yield peer
    finally:
        peer.delete()
