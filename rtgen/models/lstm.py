"""A stateful LSTM over rtgen tokens: batched forward for training, one-token step for play.

State is ``(h, c)``, each ``(layers, batch, hidden)``; the daemon runs with batch 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rtgen.tokens import VOCAB_SIZE


@dataclass
class LSTMConfig:
    vocab_size: int = VOCAB_SIZE
    embed: int = 128  # token embedding width
    hidden: int = 256  # LSTM width: sets the step cost (DESIGN.md: 2x256 ~ 0.1 ms in ORT)
    layers: int = 2
    dropout: float = 0.1  # between layers and before the head, training only


class LSTMModel(nn.Module):
    kind = "lstm"

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed)
        self.lstm = nn.LSTM(
            cfg.embed,
            cfg.hidden,
            cfg.layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)

    def init_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.cfg.layers, batch, self.cfg.hidden)
        return torch.zeros(shape), torch.zeros(shape)

    def forward(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """tokens (batch, time) -> logits (batch, time, vocab), new state."""
        x = self.embed(tokens)
        y, state = self.lstm(x, state)
        return self.head(self.drop(y)), state

    def step(
        self, token: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """token (batch,) -> logits (batch, vocab), new state: the contract the runtime uses."""
        logits, state = self.forward(token.view(-1, 1), state)
        return logits[:, 0], state
