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


def rotate_half_matrix(head_dim: int) -> np.ndarray:
    """R with x @ R == cat(-x2, x1) for x = cat(x1, x2): each element's partner, signed."""
    half = head_dim // 2
    r = np.zeros((head_dim, head_dim))
    idx = np.arange(half)
    r[idx + half, idx] = -1.0
    r[idx, idx + half] = 1.0
    return r


class StepInputs:
    """Inputs of the Transformer step graph for absolute position ``pos``, from tables built
    once per session (per step: one float64 cos/sin of head_dim angles):

        rope (2, head_dim, head_dim): the rotation at ``pos`` as a matrix (x @ rope[1]
            equals rtgen.models.rope.apply_rope(x)), for queries times the attention scale
            1/sqrt(head_dim): one matmul node per layer rotates and scales, where the
            elementwise form takes four nodes and the scale one more
        bias (window,): a row of ``ring_bias``
    Slots fill in order 0..window-1, then wrap around: ``slot(pos)`` is where ``pos`` goes.
    """

    def __init__(self, window: int, head_dim: int) -> None:
        self.window = window
        self.inv = np.tile(inverse_frequencies(head_dim), 2)  # each pair's speed, both halves
        self.rot = rotate_half_matrix(head_dim)
        self.diag = np.arange(head_dim)
        self.scale = np.array([head_dim**-0.5, 1.0]).reshape(2, 1, 1)  # queries, keys
        self.bias_rows = ring_bias(window)

    def slot(self, pos: int) -> int:
        return pos % self.window

    def store(self, rings: list, news: list, pos: int) -> None:
        """Write a step's keys and values, news = [k, v] each (layers, b, heads, 1, head_dim),
        into the slot of ``pos`` in rings = [k_ring, v_ring] (keys transposed: (layers, b,
        heads, head_dim, window)). numpy arrays or torch tensors alike."""
        slot = self.slot(pos)
        rings[0][..., slot] = news[0][:, :, :, 0]
        rings[1][:, :, :, slot] = news[1][:, :, :, 0]

    def bias(self, pos: int) -> np.ndarray:
        row = pos if pos < self.window else self.window + pos % self.window
        return self.bias_rows[row]

    def rope(self, pos: int) -> np.ndarray:
        """x @ m == x * cos + (x @ R) * sin for m = R scaled by sin per column, cos on the
        diagonal (R's diagonal is zero); then the queries' and keys' scales."""
        ang = self.inv * float(pos)
        m = self.rot * np.sin(ang)
        m[self.diag, self.diag] = np.cos(ang)
        return (m * self.scale).astype(np.float32)

    def __call__(self, pos: int) -> dict[str, np.ndarray]:
        return {"rope": self.rope(pos), "bias": self.bias(pos)}
