"""Summaries of timing samples: median, p99, max (and mean, count), in the unit asked for."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6}


def summary(samples_ns: Sequence[int] | np.ndarray, unit: str = "us") -> dict | None:
    """``{"p50", "p99", "max", "mean", "n"}`` of nanosecond samples in ``unit``; None if empty.

    Percentiles are numpy's linear interpolation; figures are rounded to 3 decimals.
    """
    values = np.asarray(samples_ns, dtype=np.float64)
    if values.size == 0:
        return None
    scaled = values / UNITS_NS[unit]
    return {
        "p50": round(float(np.percentile(scaled, 50)), 3),
        "p99": round(float(np.percentile(scaled, 99)), 3),
        "max": round(float(scaled.max()), 3),
        "mean": round(float(scaled.mean()), 3),
        "n": int(values.size),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 3 decimals, None when either is missing."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)
