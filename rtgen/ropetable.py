"""Rotary-position angle tables in numpy (float64 math, float32 out).

Kept free of torch: the ONNX runtime session computes these per step for the Transformer's
step graph, and the daemon runs without torch.
"""

from __future__ import annotations

import numpy as np


def rope_tables(positions: np.ndarray, head_dim: int, base: float = 10000.0) -> tuple:
    """cos, sin of shape (len(positions), head_dim // 2), float32, computed in float64."""
    inv = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = np.outer(np.asarray(positions, dtype=np.float64), inv)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def step_inputs(pos: int, window: int, head_dim: int) -> dict[str, np.ndarray]:
    """Inputs of the Transformer step graph for absolute position ``pos``:
    cos/sin (1, head_dim/2); write (window,) one-hot of the ring slot; bias (window,) with
    0 for filled slots and -inf for empty ones."""
    cos, sin = rope_tables(np.array([pos]), head_dim)
    write = np.zeros(window, dtype=np.float32)
    write[pos % window] = 1.0
    bias = np.full(window, -np.inf, dtype=np.float32)
    bias[: min(pos + 1, window)] = 0.0
    return {"cos": cos, "sin": sin, "write": write, "bias": bias}
