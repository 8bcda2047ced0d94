"""Small checkpoints of both kinds (tests/support/checkpoints.py), made once a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.checkpoints import SMALL, make_ckpt, make_trained_lstm


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ckpt")
    return {kind: make_ckpt(folder, kind) for kind in SMALL}


@pytest.fixture(scope="session")
def trained_lstm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_lstm(tmp_path_factory.mktemp("trained"))
