"""Listener latency: one player note-on, from the raw message to its tokens fed to the model.

Measured per note-on message, on the engine's thread, with the real Engine and session:
``Engine.on_message`` (``Listener.feed``, the mode's barge-in check,
``Planner.add_player_event``) and then ``Planner.commit`` (``StreamingEncoder.feed`` and one
``session.step`` per token: the pending SHIFTs, a VELOCITY when the bin changes, the NOTE_ON).
Not in this figure: the port's delivery and the queue hop from the rtmidi callback (see the
onset figures for what JACK adds), and the wait for that commit: the live engine commits
player notes once per beat, when it plans, so the model hears a note at the next beat.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np

from rtgen.bench.stats import summary
from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config
from rtgen.engine.offline import OfflineRig
from rtgen.midi import note_off, note_on

NOTES = 400
SCALE = (60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62)
VELOCITIES = (96, 64, 80, 64)  # accents: the velocity bin changes from note to note
WHAT = (
    "Engine.on_message (Listener.feed + Planner.add_player_event) + Planner.commit "
    "(StreamingEncoder.feed + session.step per token) for one note-on"
)


def listener_latency(model: Path, device: str, notes: int = NOTES) -> tuple[dict, np.ndarray]:
    """Figures (µs) over ``notes`` eighth notes at 120 BPM, and the samples (ns)."""
    from rtgen.sessions import open_session

    session = open_session(model, device, threads=1)
    settings = PlaySettings(mode="call-response", seed=0).validate()
    rig = OfflineRig(engine_config(settings, 0), session, bpm=settings.bpm)
    engine, planner = rig.engine, rig.engine.planner
    samples, tokens = [], 0
    clock = time.perf_counter_ns
    gc.collect()
    for i in range(notes):
        t_on, t_off = rig.beats_to_ns(1 + i / 2), rig.beats_to_ns(1 + i / 2 + 0.25)
        pitch, vel = SCALE[i % len(SCALE)], VELOCITIES[i % len(VELOCITIES)]
        rig.clock.set(t_on)
        before = len(planner.committed)
        t0 = clock()
        engine.on_message(note_on(0, pitch, vel), t_on)
        planner.commit(t_on + 1)
        samples.append(clock() - t0)
        tokens += len(planner.committed) - before
        rig.clock.set(t_off)  # the note-off: fed, not timed
        engine.on_message(note_off(0, pitch), t_off)
        planner.commit(t_off + 1)
    values = np.asarray(samples, dtype=np.int64)
    figures = summary(values, "us") or {}
    figures.update({"tokens_per_note": round(tokens / max(1, notes), 2), "measures": WHAT})
    return figures, values
