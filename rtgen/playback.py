"""Play a list of notes to a MIDI output, in time: `rtgen demo --out PORT`.

The notes go through the same Scheduler and NoteLedger as `rtgen play`, so Ctrl-C or any
error still ends every sounding note (the scheduler's panic) before the port closes.
"""

from __future__ import annotations

import time

from rtgen.engine.clock import MonotonicClock
from rtgen.engine.ledger import NoteLedger
from rtgen.engine.scheduler import Scheduler
from rtgen.events import Note, Role

LEAD_NS = 200_000_000  # the first note this far after the port opens
TAIL_S = 0.3  # let the last note-offs reach the synth before the port closes


def play_notes(notes: list[Note], port: str, api: str | None, bpm: float) -> None:
    """Send ``notes`` (beats) at ``bpm``: the player's part on channel 1, the model's on 2."""
    from rtgen.io.ports import open_output

    out = open_output(port, api)
    clock = MonotonicClock()
    scheduler = Scheduler(out, clock, NoteLedger())
    beat_ns = 60e9 / bpm
    origin = clock.now_ns() + LEAD_NS
    end = origin
    for n in sorted(notes, key=lambda n: n.start):
        channel = 1 if n.role == Role.MODEL else 0
        t_on, t_off = origin + round(n.start * beat_ns), origin + round(n.end * beat_ns)
        scheduler.schedule_note(t_on, max(t_off, t_on + 1), channel, n.pitch, n.velocity)
        end = max(end, t_off)
    scheduler.start()
    try:
        clock.sleep_until(end)
        time.sleep(TAIL_S)
    finally:
        scheduler.stop(panic=True)  # also on Ctrl-C: nothing is left sounding
        out.close()
    print(f"played {len(notes)} notes to '{out.name}'")
