"""Small untrained checkpoints of both kinds: export and parity do not need a trained model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rtgen.models.checkpoint import build_model, describe, save_checkpoint

SMALL = {
    "lstm": {"embed": 16, "hidden": 32, "layers": 2, "dropout": 0.0},
    "transformer": {"d_model": 32, "heads": 2, "layers": 2, "window": 16, "dropout": 0.0},
}


def make_ckpt(folder: Path, kind: str) -> Path:
    torch.manual_seed(0)
    model = build_model(kind, SMALL[kind])
    path = folder / f"{kind}.ckpt"
    save_checkpoint(path, model, describe(model, {"source": "test"}, {"valid": 5.0}))
    return path


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ckpt")
    return {kind: make_ckpt(folder, kind) for kind in SMALL}
