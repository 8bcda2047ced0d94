"""Rotary position embeddings (torch side); the angle tables live in rtgen.ropetable.

The step graph takes cos/sin of the current position as inputs, so a session that runs for
hours (positions in the millions) keeps exact angles: float32 would lose them.

Two forms of the same rotation: ``apply_rope`` (slices, for the full forward) and
``apply_rope_step`` (one matmul with a fixed signed permutation, for the step graph, where
every node costs a runtime dispatch and slices plus a concat are four of them).
"""

from __future__ import annotations

import torch

from rtgen.ropetable import rope_tables  # noqa: F401 - re-exported for the models


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., :d/2], x[..., d/2:]); x (..., time, head_dim), cos (time, d/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def rotate_half_matrix(head_dim: int) -> torch.Tensor:
    """R with x @ R == cat(-x2, x1): the partner of each element, signed."""
    half = head_dim // 2
    r = torch.zeros(head_dim, head_dim)
    idx = torch.arange(half)
    r[idx + half, idx] = -1.0
    r[idx, idx + half] = 1.0
    return r


def apply_rope_step(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rot: torch.Tensor
) -> torch.Tensor:
    """apply_rope with cos/sin (1, head_dim) (each angle over both halves), rot from
    ``rotate_half_matrix``."""
    return x * cos + (x @ rot) * sin
