"""Faults on demand, for the reliability tests (tests/reliability) only.

Nothing here runs unless the test environment asks for it by name:

    RTGEN_TEST_FAULT=planner    the engine raises RuntimeError on the loop thread at its first
                                tick after RTGEN_TEST_FAULT_AFTER beats were planned (2)
    RTGEN_TEST_FAULT=scheduler  the output raises one on the scheduler thread at the note-on
                                after that many
    RTGEN_TEST_SLOW_STEP_MS=N   every model step takes N ms longer

The error names the fault and when it was raised (``RTGEN_TEST_FAULT=planner at t_ns=...``,
perf_counter_ns), so a test times the panic from it. Faults wrap the jam's parts from
outside; the jam itself knows nothing of them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from rtgen.midi import Message, is_note_on

if TYPE_CHECKING:
    from rtgen.engine.engine import Engine
    from rtgen.io.guarded import GuardedOutput
    from rtgen.live import LiveJam

SWITCHES = ("RTGEN_TEST_FAULT", "RTGEN_TEST_SLOW_STEP_MS")


def install(jam: LiveJam) -> None:
    """Wrap ``jam``'s engine, output or model session as the environment asks; nothing
    when no switch is set."""
    if not any(os.environ.get(name) for name in SWITCHES):
        return
    fault = os.environ.get("RTGEN_TEST_FAULT", "")
    after = int(os.environ.get("RTGEN_TEST_FAULT_AFTER", "2"))
    if fault == "scheduler":
        _fail_after_note_ons(jam.out, after)
    elif fault == "planner":
        jam.engine = _FaultyEngine(jam.engine, after)  # type: ignore[assignment]
    slow_ms = float(os.environ.get("RTGEN_TEST_SLOW_STEP_MS", "0") or 0)
    if slow_ms > 0:
        step = jam.session.step

        def slow_step(token: int) -> Any:
            time.sleep(slow_ms / 1000)
            return step(token)

        jam.session.step = slow_step


def _fault(name: str) -> RuntimeError:
    return RuntimeError(f"RTGEN_TEST_FAULT={name} at t_ns={time.perf_counter_ns()}")


def _fail_after_note_ons(out: GuardedOutput, after: int) -> None:
    """The output's send raises once, at the note-on after ``after`` of them."""
    send, left = out.send, [after]

    def faulty_send(message: Message) -> None:
        if left[0] >= 0 and is_note_on(message):
            left[0] -= 1
            if left[0] < 0:
                raise _fault("scheduler")
        send(message)

    out.send = faulty_send  # type: ignore[method-assign]


class _FaultyEngine:
    """The engine, whose tick raises once ``after`` beats were planned: a crash in the
    planner's work, on the loop thread."""

    def __init__(self, engine: Engine, after: int) -> None:
        self._engine, self._after = engine, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def tick(self, now_ns: int) -> int:
        if self._engine.stats().plans >= self._after:
            raise _fault("planner")
        return self._engine.tick(now_ns)
