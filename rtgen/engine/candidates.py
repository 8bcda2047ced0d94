"""Driving the planner's candidate continuations: one on the session itself, or N at once.

A candidate is a generator (``Planner._sample_window``): it yields ``(kind, tokens)`` when
it needs the model, ``FEED`` for the logits after ``tokens`` or ``SNAP`` for the logits and
the model state's snapshot after them, and is sent back ``(logits or None, snapshot or
None)`` (None logits: nothing was fed, its own logits stand). It returns its notes.

- ``drive_one`` runs one candidate on the session itself, token by token: the one-candidate
  plan, exactly as before best-of-N existed.
- ``drive_many`` runs N in lockstep: each round, every candidate that waits gets its tokens
  fed, the j-th tokens of all of them in one batched step (``LockstepStates``: an LSTM step
  graph exported with a batch axis), or one row at a time through snapshot/restore
  (``SerialStates``: sessions without a batched graph; the tests' fakes, the n-gram).

Order is fixed (candidate 0 first in every round), so the sampler's seeded draws, and with
them every plan, repeat exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

FEED, SNAP = "feed", "snap"
Candidate = Generator[tuple[str, list[int]], tuple[Any, Any], Any]


def drive_one(cand: Candidate, step: Callable[[list[int]], np.ndarray], snapshot) -> Any:
    """Run one candidate on the session itself; its result."""
    try:
        kind, toks = next(cand)
        while True:
            logits = step(toks) if toks else None
            kind, toks = cand.send((logits, snapshot() if kind == SNAP else None))
    except StopIteration as stop:
        return stop.value


class LockstepStates:
    """N copies of an LSTM session's state (layers, N, hidden), stepped in one call."""

    def __init__(self, session, snap, n: int) -> None:
        pos, state = snap
        self.session = session
        self.pos = np.full(n, pos, dtype=np.int64)
        self.state = [np.repeat(np.asarray(s, dtype=np.float32), n, axis=1) for s in state]
        self.tokens = np.zeros(n, dtype=np.int64)

    def step(self, tokens: list[int | None]) -> np.ndarray:
        """(N, vocab) logits; rows whose token is None keep their state (their logits are
        not meant to be read)."""
        active = np.array([t is not None for t in tokens])
        self.tokens[:] = [0 if t is None else t for t in tokens]
        logits, new = self.session.step_batch(self.tokens, self.state)
        if active.all():
            self.state = new
        else:
            for s, n in zip(self.state, new):
                s[:, active] = n[:, active]
        self.pos += active
        return logits

    def snapshot(self, i: int) -> tuple:
        """Row ``i`` as the session's own snapshot (session.restore takes it)."""
        return (int(self.pos[i]), [s[:, i : i + 1].copy() for s in self.state])


class SerialStates:
    """N snapshots of any session, stepped one row at a time (no batched graph)."""

    def __init__(self, session, snap, n: int) -> None:
        self.session, self.snaps = session, [snap] * n

    def step(self, tokens: list[int | None]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for i, tok in enumerate(tokens):
            if tok is None:
                out.append(None)
                continue
            self.session.restore(self.snaps[i])
            out.append(self.session.step(tok))
            self.snaps[i] = self.session.snapshot()
        return out

    def snapshot(self, i: int) -> tuple:
        return self.snaps[i]


def states_for(session, snap, n: int):
    """Lockstep through the session's batched step when it has one, else serial."""
    if getattr(session, "batched", False):
        return LockstepStates(session, snap, n)
    return SerialStates(session, snap, n)


def drive_many(cands: list[Candidate], states, on_step: Callable[[int], None]) -> list[Any]:
    """Run the candidates in lockstep over ``states``; their results in order. ``on_step``
    is told the wall time (ns) of each batched step."""
    n = len(cands)
    results: list[Any] = [None] * n
    waiting: dict[int, tuple[str, list[int]]] = {}
    for i, c in enumerate(cands):
        try:
            waiting[i] = next(c)
        except StopIteration as stop:
            results[i] = stop.value
    while waiting:
        last: dict[int, np.ndarray] = {}
        depth = max(len(toks) for _, toks in waiting.values())
        for j in range(depth):
            row = [None] * n
            for i, (_, toks) in waiting.items():
                if j < len(toks):
                    row[i] = toks[j]
            t0 = time.perf_counter_ns()
            logits = states.step(row)
            on_step(time.perf_counter_ns() - t0)
            for i, tok in enumerate(row):
                if tok is not None:
                    last[i] = logits[i]
        for i, (kind, _) in list(waiting.items()):
            reply = (last.get(i), states.snapshot(i) if kind == SNAP else None)
            try:
                waiting[i] = cands[i].send(reply)
            except StopIteration as stop:
                results[i] = stop.value
                del waiting[i]
    return results
