"""PlaySettings -> the engine's configuration (one place, used by play, generate and demo)."""

from __future__ import annotations

from rtgen.assets import default_critic
from rtgen.config import PlaySettings
from rtgen.engine.bias import Strengths
from rtgen.engine.engine import EngineConfig
from rtgen.engine.harmony import HarmonyRoute, parse_chords, parse_split
from rtgen.engine.keys import parse_key, scale_pitch_classes
from rtgen.engine.modes import ModeConfig
from rtgen.engine.sampler import SamplerConfig
from rtgen.engine.steer import SteerConfig
from rtgen.events import Note, Role
from rtgen.midi import is_note_off, is_note_on


def engine_config(s: PlaySettings, seed: int) -> EngineConfig:
    low, high = s.pitch_range()
    fixed_key = s.key if s.key and s.key.lower() != "none" else None
    mode = ModeConfig(
        mode=s.mode,
        silence=s.silence,
        answer_bars=s.answer_bars,
        start=s.answer_start,
        barge_in=s.barge_in,
        beats_per_bar=s.beats_per_bar,
    )
    sampler = SamplerConfig(
        temperature=s.temperature,
        top_p=s.top_p,
        min_p=s.min_p,
        low=low,
        high=high,
        key=fixed_key if s.key_strict else None,
        max_polyphony=s.max_polyphony,
        max_note_beats=s.max_note_beats,
        seed=seed,
    )
    out = (s.duet_channel if s.mode == "duet" else s.out_channel) - 1
    strengths = Strengths(
        texture=s.texture,
        density=s.density,
        register=s.register,
        rhythm=s.rhythm,
        dynamics=s.dynamics,
        key=s.key_strength,
    )
    return EngineConfig(
        mode=mode,
        sampler=sampler,
        in_channel=s.in_channel - 1 if s.in_channel else None,
        out_channel=out,
        lookahead=s.lookahead,
        auto_key=not s.key and (s.key_strict or s.key_strength > 0),
        steer=SteerConfig(strengths, memory=s.memory_weight, feel=s.feel, ornament=s.ornament),
        key_mask=s.key_strict,  # else the key is a preference of key_strength (0: no key)
        prefer_key=None if s.key_strict or not fixed_key else _scale(fixed_key),
        candidates=s.candidates,
        critic=(s.critic or str(default_critic())) if s.candidates > 1 else None,
        harmony_route=harmony_route(s),
        harmony=s.harmony,
        tempo_from_call=s.bpm_auto,
        plan_lead_ns=round(s.latency_ms * 1e6),  # sent that early: its beats planned so too
    )


def harmony_route(s: PlaySettings) -> HarmonyRoute | None:
    """What carries the harmony (--split, --chords); None: nothing does (today's rtgen)."""
    split = parse_split(s.split)
    source, channel = parse_chords(s.chords)
    if split is None and not source:
        return None
    return HarmonyRoute(split=split, channel=channel)


def sent_to_notes(
    sent: list[tuple[int, tuple[int, ...]]],
    beat_at,
    role: Role,
    channel: int | None = None,
) -> list[Note]:
    """Pair the note-ons and note-offs a port received into notes (in beats)."""
    open_: dict[tuple[int, int], list[tuple[int, int]]] = {}
    notes: list[Note] = []
    for t, m in sent:
        on = is_note_on(m)
        if not (on or is_note_off(m)):
            continue
        ch, pitch = m[0] & 0x0F, m[1]
        if channel is not None and ch != channel:
            continue
        if on:
            open_.setdefault((ch, pitch), []).append((t, m[2]))
        elif open_.get((ch, pitch)):
            t0, vel = open_[(ch, pitch)].pop(0)
            notes.append(Note(beat_at(t0), beat_at(t), pitch, vel, role, ch))
    return sorted(notes)


def _scale(key: str) -> frozenset[int]:
    return frozenset(scale_pitch_classes(*parse_key(key)))
