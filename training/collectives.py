"""The few collectives training needs, returning only once the backend has let go of their tensors.

Why: gloo runs each collective on a worker thread, and that thread drops its references to the
tensors *after* `wait()` has returned to Python. Dropping a reference to a tensor Python can see
takes the GIL. If the main thread is already shutting the interpreter down by then (the last
collective of a run, then exit), the worker cannot get the GIL, its thread is torn down inside a
destructor, and the process dies with SIGABRT ("terminate called without an active exception")
after all its work was saved. Seen here in about 1 torchrun run in 6 on 2 CPUs, and in CI.

PyTorch counts a C++ holder of a Python-visible tensor as a reference to its Python object, so
`sys.getrefcount` tells when the worker has let go; we sleep (GIL released) until it has.
"""

from __future__ import annotations

import sys
import time

import torch
import torch.distributed as dist

# A worker needs microseconds once it has the GIL; this only bounds a torch whose references
# behave differently (then the wait ends here and we are no worse off than before).
LET_GO_TIMEOUT_S = 2.0


def _refs(held: list[torch.Tensor]) -> list[int]:
    return [sys.getrefcount(t) for t in held]


def _wait_let_go(held: list[torch.Tensor], idle: list[int]) -> None:
    deadline = time.monotonic() + LET_GO_TIMEOUT_S
    while any(n > m for n, m in zip(_refs(held), idle)) and time.monotonic() < deadline:
        time.sleep(0.001)


def _run(held: list[torch.Tensor], start) -> None:
    idle = _refs(held)
    start().wait()
    _wait_let_go(held, idle)


def all_gather(t: torch.Tensor, world: int) -> list[torch.Tensor]:
    """Every rank's `t` (same shape and dtype on every rank), in rank order."""
    t = t.contiguous()
    outs = [torch.empty_like(t) for _ in range(world)]
    _run([t, *outs], lambda: dist.all_gather(outs, t, async_op=True))
    return outs


def broadcast(t: torch.Tensor, src: int) -> torch.Tensor:
    """`t` as rank `src` holds it, on every rank (in place)."""
    _run([t], lambda: dist.broadcast(t, src, async_op=True))
    return t
