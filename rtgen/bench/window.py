"""Transformer step cost across its window: does a full key/value cache cost more?

The step graph keeps a fixed ring of ``window`` key/value slots, so a step should cost the
same at position 0, at the end of the window and long after the ring wrapped (DESIGN.md: a
cache grown by concatenation costs 2x as it fills). One pass over ``2 * window`` held-out
tokens takes snapshots at positions 0, ``W - 64`` and ``2W - 64``; then, ``reps`` times,
each block of 64 steps is restored and timed in turn, so the three blocks see the same
conditions (a restore just before each, the same machine load). Each round starts with a
garbage collection, which empties the CPU caches the weights live in; a few untimed steps
after it refill them, or the first block timed (always "start") would pay for that alone
and the end/start ratio would flatter the model.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from rtgen.bench.stats import ratio, summary
from rtgen.bench.step import teacher_tokens, time_steps

EDGE = 64  # positions timed in each block
REPS = 10
WARM = 8  # untimed steps after each garbage collection


def _blocks(window: int) -> dict[str, int]:
    """First position of each block: the window's start, its end, and past it."""
    return {"start": 0, "end": window - EDGE, "past": 2 * window - EDGE}


def window_latency(path: Path, device: str, reps: int = REPS) -> tuple[dict, np.ndarray]:
    """Figures (µs) per block of positions, and all timed samples (ns)."""
    from rtgen.engine.session import OnnxSession

    session = OnnxSession(path, device, threads=1)
    window = session.window
    tokens = teacher_tokens(2 * window)
    starts = _blocks(window)
    snaps = {}
    session.reset()
    for pos, tok in enumerate(tokens.tolist()):  # the pass that reaches every block
        for name, first in starts.items():
            if pos == first:
                snaps[name] = session.snapshot()
        session.step(tok)
    samples: dict[str, list[int]] = {name: [] for name in starts}
    for _ in range(reps):
        gc.collect()
        session.restore(snaps["start"])
        time_steps(session, tokens[:WARM])  # untimed: refills the caches the collection emptied
        for name, first in starts.items():
            session.restore(snaps[name])
            samples[name] += time_steps(session, tokens[first : first + EDGE])
    figs = {name: summary(v) for name, v in samples.items()}
    figures = {
        "window": window,
        "backend": "ort_fp32",
        "providers": list(session.providers),
        "positions": {name: [first, first + EDGE] for name, first in starts.items()},
        "reps": reps,
    }
    for name, fig in figs.items():
        figures[f"p50_{name}_us"], figures[f"p99_{name}_us"] = fig["p50"], fig["p99"]
    figures["ratio"] = ratio(figs["end"]["p99"], figs["start"]["p99"])
    figures["ratio_past"] = ratio(figs["past"]["p99"], figs["start"]["p99"])
    return figures, np.concatenate([np.asarray(v, dtype=np.int64) for v in samples.values()])
