"""A fake model session: seeded random logits, the session contract, optional slowness."""

from __future__ import annotations

import numpy as np

from rtgen import tokens as T


class FakeSession:
    """Logits depend on (seed, position, last token): repeatable and cheap.

    ``clock``/``step_ns``/``scheduler``: each step advances the fake clock by ``step_ns`` in
    1 ms slices and lets the scheduler send what falls due, as its own thread would while a
    slow model computes."""

    kind = "fake"

    def __init__(self, seed: int = 0, clock=None, step_ns: int = 0, scheduler=None) -> None:
        self.seed, self.clock, self.step_ns, self.scheduler = seed, clock, step_ns, scheduler
        self.meta = {"kind": "fake"}
        self.reset()

    def reset(self) -> None:
        self.pos, self.last = 0, T.BOS

    def step(self, token: int) -> np.ndarray:
        self.pos += 1
        self.last = int(token)
        if self.step_ns and self.clock is not None:
            left = self.step_ns
            while left > 0:
                dt = min(left, 1_000_000)
                self.clock.advance(dt)
                left -= dt
                if self.scheduler is not None:
                    self.scheduler.run_due(self.clock.now_ns())
        rng = np.random.default_rng((self.seed, self.pos, self.last))
        logits = rng.normal(0, 2, T.VOCAB_SIZE).astype(np.float32)
        logits[T.SHIFT_BASE : T.SHIFT_BASE + 12] += 2.0  # short moves, like music
        return logits

    def snapshot(self) -> tuple:
        return (self.pos, self.last)

    def restore(self, snap: tuple) -> None:
        self.pos, self.last = snap
