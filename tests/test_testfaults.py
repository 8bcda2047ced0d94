"""The reliability tests' faults: off unless the environment names one, then exactly as named."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rtgen import testfaults
from rtgen.engine.clock import FakeClock
from rtgen.engine.portproto import FakeOutputPort
from rtgen.io.guarded import GuardedOutput, SentLog


def _jam() -> SimpleNamespace:
    out = GuardedOutput(FakeOutputPort(), SentLog(), FakeClock())
    return SimpleNamespace(out=out, engine=object(), session=SimpleNamespace(step=len))


def test_nothing_is_wrapped_without_a_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*testfaults.SWITCHES, "RTGEN_TEST_FAULT_AFTER"):
        monkeypatch.delenv(name, raising=False)
    jam = _jam()
    send, engine, step = jam.out.send, jam.engine, jam.session.step
    testfaults.install(jam)
    assert (jam.out.send, jam.engine, jam.session.step) == (send, engine, step)


def test_the_scheduler_fault_raises_once_at_the_note_on_after_n(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RTGEN_TEST_FAULT=scheduler, AFTER=2: the third note-on raises (naming the fault and
    its time); other messages and later sends go through."""
    monkeypatch.setenv("RTGEN_TEST_FAULT", "scheduler")
    monkeypatch.setenv("RTGEN_TEST_FAULT_AFTER", "2")
    jam = _jam()
    testfaults.install(jam)
    for message in [(0x90, 60, 1), (0xB0, 7, 1), (0x90, 61, 1)]:
        jam.out.send(message)
    with pytest.raises(RuntimeError, match=r"RTGEN_TEST_FAULT=scheduler at t_ns=\d+"):
        jam.out.send((0x90, 62, 1))
    jam.out.send((0x90, 63, 1))
    assert [m[1] for m in jam.out.port.messages()] == [60, 7, 61, 63]
