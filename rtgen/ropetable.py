"""Rotary-position angle tables and the Transformer step graph's per-position inputs, in numpy.

Kept free of torch: the ONNX runtime session builds these every step, and the daemon runs
without torch. Angles are computed in float64 (a session that lasts hours reaches positions
in the millions, where float32 angles would drift) and handed over as float32.
"""

from __future__ import annotations

import numpy as np

ROPE_BASE = 10000.0


def inverse_frequencies(head_dim: int, base: float = ROPE_BASE) -> np.ndarray:
    """(head_dim // 2,) float64 rotation speed of each pair."""
    return base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


def rope_tables(positions: np.ndarray, head_dim: int, base: float = ROPE_BASE) -> tuple:
    """cos, sin of shape (len(positions), head_dim // 2), float32, computed in float64."""
    ang = np.outer(np.asarray(positions, dtype=np.float64), inverse_frequencies(head_dim, base))
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def ring_bias(window: int) -> np.ndarray:
    """(2 * window, window) attention bias over the ring's slots, one row per case: row p
    (p < window) while the ring fills, row window + s once it is full and slot s is about to
    be overwritten. 0 = attend, -inf = not. The slot this token writes is always masked: the
    step graph attends to the new key separately, and what the slot still holds is a token
    that has just left the window (or nothing)."""
    slots = np.arange(window)
    filling = np.where(slots[None, :] < slots[:, None], 0.0, -np.inf)
    full = np.where(slots[None, :] == slots[:, None], -np.inf, 0.0)
    return np.concatenate([filling, full]).astype(np.float32)


class StepInputs:
    """Inputs of the Transformer step graph for absolute position ``pos``, from tables built
    once per session (the per-step work is one float64 cos/sin of head_dim/2 angles):

        cos, sin (1, head_dim): each pair's angle, repeated over both halves of the head
        bias (window,): a row of ``ring_bias``
    Slots fill in order 0..window-1, then wrap around: ``slot(pos)`` is where ``pos`` goes.
    """

    def __init__(self, window: int, head_dim: int) -> None:
        self.window = window
        self.inv = np.tile(inverse_frequencies(head_dim), 2).reshape(1, head_dim)
        self.bias_rows = ring_bias(window)

    def slot(self, pos: int) -> int:
        return pos % self.window

    def bias(self, pos: int) -> np.ndarray:
        row = pos if pos < self.window else self.window + pos % self.window
        return self.bias_rows[row]

    def __call__(self, pos: int) -> dict[str, np.ndarray]:
        ang = self.inv * float(pos)
        cos, sin = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
        return {"cos": cos, "sin": sin, "bias": self.bias(pos)}
