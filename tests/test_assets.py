"""Which bundled model plays: int8 on CPU, full precision on CUDA, one rule for play and bench."""

from __future__ import annotations

import pytest

from rtgen import assets


@pytest.mark.parametrize(
    ("device", "has_cuda", "cuda", "int8"),
    [
        ("cpu", True, False, True),
        ("cpu", False, False, True),
        ("auto", True, True, False),
        ("auto", False, False, True),
        ("cuda", True, True, False),
    ],
)
def test_int8_on_cpu_full_precision_on_cuda(
    monkeypatch: pytest.MonkeyPatch, device: str, has_cuda: bool, cuda: bool, int8: bool
) -> None:
    monkeypatch.setattr(assets, "cuda_available", lambda: has_cuda)
    assert assets.will_use_cuda(device) is cuda
    path = assets.default_play_model(device)
    assert path.is_file()
    assert (path.name == assets.PLAY_MODEL_CPU) is int8, path
