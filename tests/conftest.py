"""Shared fixtures: a small prepared dataset built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


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
