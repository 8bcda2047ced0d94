"""A jam on a fake clock: a primer or call played into the real engine, the answer collected.

rtgen generate and rtgen demo use it, so what they write is exactly what the daemon would
have played for the same input, seed and model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config, sent_to_notes
from rtgen.engine.offline import OfflineRig
from rtgen.events import Note, Role
from rtgen.midi import note_off, note_on

LEAD_IN_BEATS = 1.0  # the primer starts one beat after the clock


@dataclass
class JamResult:
    player: list[Note]
    model: list[Note]
    stats: dict


def beats_to_answer(settings: PlaySettings, answer_beats: float) -> float:
    """Beats to run past a call's end so an answer of ``answer_beats`` is heard whole: the
    engine waits at most a bar of silence (modes.py), then starts on the next beat."""
    return settings.beats_per_bar + 1.0 + answer_beats


def jam_offline(
    session,
    settings: PlaySettings,
    seed: int,
    prime: list[Note],
    beats_after: float,
) -> JamResult:
    """Play ``prime`` (beats from 0) to the engine; run ``beats_after`` beats past its end."""
    if not prime and settings.mode != "duet":
        settings = replace(settings, mode="duet")  # nothing to answer: just play
    cfg = engine_config(settings, seed)
    rig = OfflineRig(cfg, session, bpm=settings.bpm)
    ch = cfg.in_channel or 0
    inputs = []
    for n in prime:
        t_on = rig.beats_to_ns(LEAD_IN_BEATS + n.start)
        t_off = rig.beats_to_ns(LEAD_IN_BEATS + n.end)
        inputs += [(t_on, note_on(ch, n.pitch, n.velocity)), (t_off, note_off(ch, n.pitch))]
    end = max((n.end for n in prime), default=0.0)
    rig.run(inputs, rig.beats_to_ns(LEAD_IN_BEATS + end + beats_after))
    rig.stop()
    origin = rig.beats_to_ns(LEAD_IN_BEATS)

    def beat_at(t: int) -> float:
        return rig.timeline.beat_at(t) - rig.timeline.beat_at(origin)

    model = sent_to_notes(rig.port.sent, beat_at, Role.MODEL, cfg.out_channel)
    player = [replace(n, role=Role.PLAYER) for n in prime]
    p = rig.engine.stats()
    stats = {
        "plans": p.plans,
        "notes": p.notes,
        "shifted": p.shifted,
        "dropped": p.dropped,
        "answers": p.answers,
        # the last answer's first beat, in the primer's beats (None: no answer)
        "answer_start": p.answer_start - LEAD_IN_BEATS if p.answers else None,
        "seed": seed,
    }
    return JamResult(player, model, stats)
