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

from rtgen.models.rope import apply_rope, apply_rope_step, rotate_half_matrix
from rtgen.ropetable import StepInputs, rope_tables
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
        """x and att (..., d_model): attention output projected, then the MLP."""
        x = x + self.drop(self.proj(att))
        return x + self.drop(self.mlp(self.ln2(x)))

    def forward(self, x, cos, sin, mask):  # noqa: ANN001 - shapes in Transformer.forward
        b, t, _ = x.shape
        q, k, v = self._qkv(x, cos, sin)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self._finish(x, att.transpose(1, 2).reshape(b, t, -1))

    def step(self, x, cos, sin, rot, k_cache, v_cache, bias):  # noqa: ANN001
        """One token: x (b, d); cos/sin (1, head_dim); this layer's ring k_cache/v_cache
        (b, heads, window, head_dim), read only; bias (window,) masks empty slots and the
        slot this token will take. Returns x and the token's k, v (b, heads, 1, head_dim).

        The new key is attended to beside the ring rather than written into it, so the graph
        never copies the cache: the runtime writes k, v into their slot afterwards. With one
        token, (b, 1, heads, hd) -> (b, heads, 1, hd) is a reshape, not a transpose."""
        b, d = x.shape
        hd = d // self.heads
        z = self.qkv(self.ln1(x)).view(b, 3 * self.heads, 1, hd)
        qk, v = z.split([2 * self.heads, self.heads], dim=1)
        q, k = apply_rope_step(qk, cos, sin, rot).split(self.heads, dim=1)
        scale = hd**-0.5
        old = (q @ k_cache.transpose(-1, -2)) * scale + bias  # (b, heads, 1, window)
        new = (q @ k.transpose(-1, -2)) * scale  # (b, heads, 1, 1)
        p = torch.softmax(torch.cat([old, new], dim=-1), dim=-1)
        att = p[..., :-1] @ v_cache + p[..., -1:] * v
        return self._finish(x, att.reshape(b, d)), k, v


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
        # Constants of the step graph, not weights: not saved in checkpoints.
        self.register_buffer("rot", rotate_half_matrix(self.head_dim), persistent=False)
        self._step_inputs = StepInputs(cfg.window, self.head_dim)

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
        """cos, sin (1, head_dim) and the attention bias (window,) for ``pos``."""
        d = self._step_inputs(pos)
        return tuple(torch.from_numpy(d[k]) for k in ("cos", "sin", "bias"))

    def step_raw(self, token, cos, sin, bias, k_caches, v_caches):  # noqa: ANN001
        """The exported step: token (b,) -> logits (b, vocab) and the token's keys/values
        (layers, b, heads, 1, head_dim); k_caches/v_caches: one ring per layer, read only."""
        x = self.embed(token)
        ks, vs = [], []
        for blk, k_cache, v_cache in zip(self.blocks, k_caches, v_caches):
            x, k, v = blk.step(x, cos, sin, self.rot, k_cache, v_cache, bias)
            ks.append(k)
            vs.append(v)
        return self.head(self.ln_f(x)), torch.stack(ks), torch.stack(vs)

    def step(self, token: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """token (b,) -> logits (b, vocab), state (k_cache, v_cache, position). The caches
        are updated in place (one slot), like the runtime's: copy a state to keep it."""
        k_cache, v_cache, pos = state
        cos, sin, bias = self.step_inputs(pos)
        logits, k, v = self.step_raw(token, cos, sin, bias, k_cache.unbind(0), v_cache.unbind(0))
        slot = self._step_inputs.slot(pos)
        k_cache[:, :, :, slot] = k[:, :, :, 0]
        v_cache[:, :, :, slot] = v[:, :, :, 0]
        return logits, (k_cache, v_cache, pos + 1)
