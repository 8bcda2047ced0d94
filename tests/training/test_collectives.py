"""training.collectives: right values over real gloo, and the wait for the worker to let go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from training import collectives


@pytest.fixture
def gloo_group(tmp_path: Path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def test_all_gather_and_broadcast_over_gloo(gloo_group: None) -> None:
    """One rank: the gather returns its own tensor, the broadcast leaves it as it was."""
    state = torch.arange(7, dtype=torch.uint8)
    (got,) = collectives.all_gather(state, 1)
    assert torch.equal(got, state) and got.data_ptr() != state.data_ptr()
    flag = torch.tensor([1])
    assert collectives.broadcast(flag, 0).item() == 1


def test_wait_ends_when_the_last_outside_holder_lets_go() -> None:
    """A reference held elsewhere (the backend's worker thread, here a timer) keeps the wait on
    until it is dropped, and not much longer."""
    t = torch.zeros(3)
    idle = collectives._refs([t])
    worker_holds = [t]
    threading.Timer(0.08, worker_holds.clear).start()
    t0 = time.monotonic()
    collectives._wait_let_go([t], idle)
    waited = time.monotonic() - t0
    assert 0.07 <= waited < 0.5, waited


def test_wait_is_bounded_when_the_holder_never_lets_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collectives, "LET_GO_TIMEOUT_S", 0.05)
    t = torch.zeros(3)
    idle = collectives._refs([t])
    kept = [t]  # never dropped during the wait
    t0 = time.monotonic()
    collectives._wait_let_go([t], idle)
    assert 0.04 <= time.monotonic() - t0 < 0.5 and kept


def test_wait_returns_at_once_when_nothing_else_holds() -> None:
    """No holder: no wait (the bound is far below the 2 s timeout, far above a machine stall)."""
    t = torch.zeros(3)
    idle = collectives._refs([t])
    t0 = time.monotonic()
    collectives._wait_let_go([t], idle)
    assert time.monotonic() - t0 < 0.2
