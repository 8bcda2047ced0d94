"""The live jam's counters, one dataclass, and the figures printed when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtgen.engine.engine import EngineStats
from rtgen.engine.scheduler import SchedulerStats


@dataclass
class JamStats:
    """What the live loop saw (the engine and the scheduler count the rest). Written by the
    loop thread only; the status line reads them once a second."""

    msgs_in: int = 0  # messages that came in (the synthetic key-ups rtgen adds not counted)
    notes_in: int = 0  # the player's note-ons the engine heard
    ignored: int = 0  # malformed messages
    echoes: int = 0  # rtgen's own output that came back in
    gated: int = 0  # notes past the note budget, not given to the model
    floods: int = 0  # bursts of input no hands could play, or input dropped
    beats_skipped: int = 0  # beats that passed before they could be planned
    port_losses: int = 0
    reconnects: int = 0


def summary(
    jam: JamStats, engine: EngineStats, sched: SchedulerStats, dropped: int, sounding: int
) -> dict[str, Any]:
    """The figures printed on exit: what came in, what went out, what was missed.
    ``dropped``: input messages the port's queue lost; ``sounding``: notes in the ledger."""
    return {
        "in": jam.msgs_in,
        "dropped": dropped,
        "ignored": jam.ignored,
        "echoes": jam.echoes,
        "notes_in": jam.notes_in,
        "model_notes": engine.notes,
        "shifted": engine.shifted,
        "dropped_notes": engine.dropped,
        "merged": engine.merged,
        "graces": engine.graces,
        "stuck_keys": engine.stuck_keys,
        "skipped_beats": jam.beats_skipped,
        "sent": sched.sent,
        "late": sched.late,
        "dropped_late": sched.dropped_late,
        "max_late_ms": round(sched.max_late_ns / 1e6, 2),
        # when that send was due, CLOCK_MONOTONIC seconds: to line it up with other logs
        "max_late_at": round(sched.max_late_at_ns / 1e9, 6),
        "gated": jam.gated,
        "floods": jam.floods,
        "port_losses": jam.port_losses,
        "reconnects": jam.reconnects,
        "sounding": sounding,
    }
