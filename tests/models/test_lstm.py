"""The LSTM's one-token step is the batched forward, one token at a time."""

from __future__ import annotations

import torch

from rtgen.models.lstm import LSTMConfig, LSTMModel


def test_step_matches_forward() -> None:
    """Stepping token by token with carried (h, c) reproduces the batched forward's logits."""
    torch.manual_seed(0)
    model = LSTMModel(LSTMConfig(embed=16, hidden=32, layers=2, dropout=0.0)).eval()
    tokens = torch.randint(0, model.cfg.vocab_size, (1, 30))
    with torch.no_grad():
        full, _ = model(tokens)
        state = model.init_state()
        steps = []
        for t in tokens[0]:
            logits, state = model.step(t.view(1), state)
            steps.append(logits[0])
    assert (full[0] - torch.stack(steps)).abs().max().item() < 1e-5
    assert state[0].shape == (2, 1, 32)
