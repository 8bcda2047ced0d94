"""Rotary position embeddings, with angles computed in float64.

The step graph takes cos/sin of the current position as inputs, so a session that runs for
hours (positions in the millions) keeps exact angles: float32 would lose them.
"""

from __future__ import annotations

import numpy as np
import torch


def rope_tables(positions: np.ndarray, head_dim: int, base: float = 10000.0) -> tuple:
    """cos, sin of shape (len(positions), head_dim // 2), float32, computed in float64."""
    inv = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = np.outer(np.asarray(positions, dtype=np.float64), inv)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., :d/2], x[..., d/2:]); x (..., time, head_dim), cos (time, d/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
