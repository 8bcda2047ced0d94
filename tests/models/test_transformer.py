"""The windowed Transformer: stepping with the fixed cache equals the banded forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtgen.models.rope import apply_rope
from rtgen.models.transformer import TransformerConfig, TransformerModel
from rtgen.ropetable import StepInputs, rope_tables


def _stepped(model: TransformerModel, tokens: torch.Tensor) -> torch.Tensor:
    state = model.init_state()
    out = []
    for t in tokens:
        logits, state = model.step(t.view(1), state)
        out.append(logits[0])
    return torch.stack(out)


@pytest.mark.parametrize("layers", [1, 3])
def test_stepping_past_the_window_matches_the_banded_forward(layers: int) -> None:
    """Stepping 3 windows of tokens through the ring cache gives the full forward's logits."""
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=64, heads=4, layers=layers, window=16, dropout=0.0)
    model = TransformerModel(cfg).eval()
    tokens = torch.randint(0, cfg.vocab_size, (48,))
    with torch.no_grad():
        full, _ = model(tokens.view(1, -1))
        stepped = _stepped(model, tokens)
    assert (full[0] - stepped).abs().max().item() < 1e-4


def test_one_layer_past_the_window_equals_a_forward_over_the_last_window() -> None:
    """With one layer, the logits after W+k tokens depend on the last W tokens only."""
    torch.manual_seed(1)
    cfg = TransformerConfig(d_model=64, heads=4, layers=1, window=16, dropout=0.0)
    model = TransformerModel(cfg).eval()
    tokens = torch.randint(0, cfg.vocab_size, (40,))
    with torch.no_grad():
        stepped = _stepped(model, tokens)
        last_window, _ = model(tokens[-16:].view(1, -1))
    assert (last_window[0, -1] - stepped[-1]).abs().max().item() < 1e-4


def test_cache_size_is_fixed() -> None:
    """The state after 100 steps has the same shape as after one: cost per token stays flat."""
    cfg = TransformerConfig(d_model=32, heads=2, layers=2, window=8, dropout=0.0)
    model = TransformerModel(cfg).eval()
    state = model.init_state()
    shapes = set()
    with torch.no_grad():
        for t in range(100):
            _, state = model.step(torch.tensor([t % 300]), state)
            shapes.add((tuple(state[0].shape), tuple(state[1].shape)))
    assert shapes == {((2, 1, 2, 16, 8), (2, 1, 2, 8, 16))}  # keys are stored transposed


@pytest.mark.parametrize("pos", [0, 7, 255, 10_000_019])
def test_step_rotation_matrix_is_apply_rope(pos: int) -> None:
    """The step graph's rope input rotates keys as the full forward does, and queries the same
    times 1/sqrt(head_dim), from position 0 to hours into a session (float64 angles)."""
    x = torch.randn(3, 1, 64)
    cos, sin = (torch.from_numpy(a) for a in rope_tables(np.array([pos]), 64))
    want = apply_rope(x, cos, sin)
    rope = torch.from_numpy(StepInputs(16, 64)(pos)["rope"])
    assert (x @ rope[1] - want).abs().max().item() < 1e-6
    assert (x @ rope[0] - want / 8).abs().max().item() < 1e-6
