"""A decoder-only Transformer with rotary positions and sliding-window attention.

Training runs the whole sequence with a band mask: token i sees tokens (i - window, i].
Stepping keeps a fixed ring buffer of ``window`` keys/values per layer, so a session that
lasts hours costs the same per token at minute one and at hour three. Keys are stored
already rotated at their absolute position, so the ring's slot order does not matter.

Stepping equals the banded full forward over the whole history (the computation the model
was trained with). With one layer that is a forward over the last ``window`` tokens alone;
with L layers the receptive field is L x window, as in any sliding-window Transformer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rtgen.models.rope import apply_rope
from rtgen.ropetable import rope_tables, step_inputs
from rtgen.tokens import VOCAB_SIZE


@dataclass
class TransformerConfig:
    vocab_size: int = VOCAB_SIZE
    d_model: int = 256
    heads: int = 4
    layers: int = 4
    window: int = 256  # attention span in tokens, the same in training and in play
    ff_mult: int = 4
    dropout: float = 0.1


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ff_mult * cfg.d_model),
            nn.GELU(),
            nn.Linear(cfg.ff_mult * cfg.d_model, cfg.d_model),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def _qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        # (batch, heads, time, head_dim)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def _finish(self, x: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = att.shape
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, t, -1)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def forward(self, x, cos, sin, mask):  # noqa: ANN001 - shapes in Transformer.forward
        q, k, v = self._qkv(x, cos, sin)
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))

    def step(self, x, cos, sin, k_cache, v_cache, write, bias):  # noqa: ANN001
        """x (b, 1, d); caches (b, heads, window, head_dim); write (window,) one-hot of the
        slot for this token; bias (window,) 0 for filled slots, -inf for empty ones."""
        q, k, v = self._qkv(x, cos, sin)
        w = write.view(1, 1, -1, 1)
        k_cache = k_cache * (1 - w) + k * w
        v_cache = v_cache * (1 - w) + v * w
        att = F.scaled_dot_product_attention(q, k_cache, v_cache, attn_mask=bias.view(1, 1, 1, -1))
        return self._finish(x, att), k_cache, v_cache


class TransformerModel(nn.Module):
    kind = "transformer"

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: fewer parameters, same quality
        self.drop = nn.Dropout(cfg.dropout)

    @property
    def head_dim(self) -> int:
        return self.cfg.d_model // self.cfg.heads

    def band_mask(self, t: int) -> torch.Tensor:
        i = torch.arange(t).view(-1, 1)
        j = torch.arange(t).view(1, -1)
        return (j <= i) & (j > i - self.cfg.window)  # (t, t) True = may attend

    def forward(self, tokens: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        """tokens (batch, time) -> logits (batch, time, vocab). Positions start at 0."""
        t = tokens.shape[1]
        cos, sin = (torch.from_numpy(a) for a in rope_tables(np.arange(t), self.head_dim))
        mask = self.band_mask(t).to(tokens.device)
        x = self.drop(self.embed(tokens))
        for blk in self.blocks:
            x = blk(x, cos.to(x.device), sin.to(x.device), mask)
        return self.head(self.ln_f(x)), None

    def init_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
        shape = (self.cfg.layers, batch, self.cfg.heads, self.cfg.window, self.head_dim)
        return torch.zeros(shape), torch.zeros(shape), 0

    def step_inputs(self, pos: int) -> tuple[torch.Tensor, ...]:
        """cos, sin (1, head_dim/2), write one-hot and attention bias (window,) for ``pos``
        (slots fill in order 0..window-1, then wrap around)."""
        d = step_inputs(pos, self.cfg.window, self.head_dim)
        return tuple(torch.from_numpy(d[k]) for k in ("cos", "sin", "write", "bias"))

    def step_raw(self, token, cos, sin, write, bias, k_cache, v_cache):  # noqa: ANN001
        """The exported step: token (b,) -> logits (b, vocab), caches (layers, b, h, w, hd)."""
        x = self.embed(token.view(-1, 1))
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk.step(x, cos, sin, k_cache[i], v_cache[i], write, bias)
            ks.append(k)
            vs.append(v)
        return self.head(self.ln_f(x))[:, 0], torch.stack(ks), torch.stack(vs)

    def step(self, token: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """token (b,) -> logits (b, vocab), state (k_cache, v_cache, position)."""
        k_cache, v_cache, pos = state
        cos, sin, write, bias = self.step_inputs(pos)
        logits, k_cache, v_cache = self.step_raw(token, cos, sin, write, bias, k_cache, v_cache)
        return logits, (k_cache, v_cache, pos + 1)
