"""Onset timing measured at the test synth."""

from __future__ import annotations

import numpy as np


def grid_errors_ms(times: list[float], step_s: float) -> np.ndarray:
    """Each onset's distance (ms) from a common grid of ``step_s`` fitted to all of them."""
    t = np.asarray(times) - times[0]
    phase = np.angle(np.mean(np.exp(2j * np.pi * t / step_s)))  # circular mean of phases
    offset = phase / (2 * np.pi) * step_s
    resid = (t - offset) - np.round((t - offset) / step_s) * step_s
    return np.abs(resid) * 1e3
