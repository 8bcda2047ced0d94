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
from rtgen.ropetable import StepInputs, rope_tables
from rtgen.tokens import VOCAB_SIZE


@dataclass
class TransformerConfig:
    vocab_size: int = VOCAB_SIZE
    d_model: int = 192  # as configs/transformer.toml: sized for step latency (docs/decisions.md)
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

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q, k, v = self._qkv(x, cos, sin)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self._finish(x, att.transpose(1, 2).reshape(b, t, -1))

    def step(self, x, rope, k_ring, v_ring, bias):
        """One token: x (b, d); rope (2, head_dim, head_dim) from StepInputs (queries' and
        keys' rotation, the queries' times 1/sqrt(head_dim)); this layer's rings, read only:
        keys stored transposed, k_ring (b, heads, head_dim, window), v_ring (b, heads,
        window, head_dim); bias (window,) masks empty slots and the slot this token will
        take. Returns x and the token's k, v (b, heads, 1, head_dim).

        Written for ONNX Runtime's CPU kernels: the new key is attended to beside the ring
        rather than written into it, so the graph never copies the ring (the runtime writes
        k, v into their slot afterwards); keys are stored transposed and the scale is in
        ``rope`` so that q @ K^T is a plain matmul (a transposed or scaled one takes twice as
        long); with one token, (b, 1, heads, hd) -> (b, heads, 1, hd) is a reshape."""
        b, d = x.shape
        hd = d // self.heads
        z = self.qkv(self.ln1(x)).view(b, 3, self.heads, hd)
        qk, v = z.split([2, 1], dim=1)
        q, k = (qk @ rope).view(b, 2 * self.heads, 1, hd).split(self.heads, dim=1)
        v = v.view(b, self.heads, 1, hd)
        old = q @ k_ring + bias  # (b, heads, 1, window)
        new = q @ k.view(b, self.heads, hd, 1)  # (b, heads, 1, 1)
        p = torch.softmax(torch.cat([old, new], dim=-1), dim=-1)
        att = p[..., :-1] @ v_ring + p[..., -1:] * v
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
        """Key and value rings of all layers (keys transposed, see Block.step), position 0."""
        c = self.cfg
        k = torch.zeros(c.layers, batch, c.heads, self.head_dim, c.window)
        v = torch.zeros(c.layers, batch, c.heads, c.window, self.head_dim)
        return k, v, 0

    def step_inputs(self, pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rotations (2, head_dim, head_dim) and attention bias (window,) for ``pos``."""
        d = self._step_inputs(pos)
        return torch.from_numpy(d["rope"]), torch.from_numpy(d["bias"])

    def step_raw(self, token, rope, bias, k_rings, v_rings):
        """The exported step: token (b,) -> logits (b, vocab) and, per layer, the token's
        key and value (b, heads, 1, head_dim); one ring per layer, read only."""
        x = self.embed(token)
        ks, vs = [], []
        for blk, k_ring, v_ring in zip(self.blocks, k_rings, v_rings):
            x, k, v = blk.step(x, rope, k_ring, v_ring, bias)
            ks.append(k)
            vs.append(v)
        return self.head(self.ln_f(x)), *ks, *vs

    def step(self, token: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """token (b,) -> logits (b, vocab), state (k_ring, v_ring, position). The rings are
        updated in place (one slot), like the runtime's: copy a state to keep it."""
        k_ring, v_ring, pos = state
        rope, bias = self.step_inputs(pos)
        logits, *news = self.step_raw(token, rope, bias, k_ring.unbind(0), v_ring.unbind(0))
        layers = self.cfg.layers
        new = [torch.stack(news[:layers]), torch.stack(news[layers:])]
        self._step_inputs.store([k_ring, v_ring], new, pos)
        return logits, (k_ring, v_ring, pos + 1)
