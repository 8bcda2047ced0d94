"""Rotary position embeddings (torch side); the angle tables live in rtgen.ropetable.

The step graph takes cos/sin of the current position as inputs, so a session that runs for
hours (positions in the millions) keeps exact angles: float32 would lose them.
"""

from __future__ import annotations

import torch

from rtgen.ropetable import rope_tables  # noqa: F401 - re-exported for the models


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., :d/2], x[..., d/2:]); x (..., time, head_dim), cos (time, d/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
