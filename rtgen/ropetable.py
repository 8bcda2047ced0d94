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
    once per session (per step: one float64 cos/sin of head_dim angles):

        rope (2, head_dim, head_dim): the rotation at ``pos`` as a matrix, x @ rope[1] equal
            to rtgen.models.rope.apply_rope(x); for queries, rope[0], times the attention
            scale 1/sqrt(head_dim). One matmul node per layer rotates and scales, where the
            elementwise form takes four nodes and the scale one more.
        bias (window,): a row of ``ring_bias``
    Slots fill in order 0..window-1, then wrap around: ``slot(pos)`` is where ``pos`` goes.
    """

    def __init__(self, window: int, head_dim: int) -> None:
        self.window, self.head_dim = window, head_dim
        half = head_dim // 2
        self.inv = np.tile(inverse_frequencies(head_dim), 2)  # each pair's speed, both halves
        # x @ rope == x * cos + cat(-x2, x1) * sin: column j holds cos at row j and, at the
        # row of j's partner, -sin (first half) or +sin (second half); all else is zero.
        self.cols = np.arange(head_dim)
        self.partner = np.roll(self.cols, half)
        self.sign = np.repeat([-1.0, 1.0], half)
        self.scale = np.array([[head_dim**-0.5], [1.0]])  # queries, keys
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

    def fill(self, pos: int, out: dict[str, np.ndarray]) -> None:
        """Write the inputs for ``pos`` into ``out``'s arrays, whose rope is zero everywhere
        but at the entries written here (a step then allocates no matrix: the session keeps
        its inputs in arrays bound to the graph)."""
        ang = self.inv * float(pos)
        rope = out["rope"]
        rope[:, self.cols, self.cols] = self.scale * np.cos(ang)
        rope[:, self.partner, self.cols] = self.scale * (self.sign * np.sin(ang))
        out["bias"][...] = self.bias(pos)

    def __call__(self, pos: int) -> dict[str, np.ndarray]:
        """The inputs for ``pos`` in new arrays."""
        hd = self.head_dim
        out = {"rope": np.zeros((2, hd, hd), np.float32), "bias": np.empty(self.window, np.float32)}
        self.fill(pos, out)
        return out
