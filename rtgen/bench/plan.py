"""Plan time per beat: the real Engine and model session on an OfflineRig (a fake clock).

The jam runs in duet mode (the model plans every beat) with the default sampler and
constraints of ``rtgen play`` (PlaySettings' defaults: key estimated from the player, range
36-96, polyphony 4). The bundled demo call is played in at the start, so the first plans
commit player notes as well. The fake clock does not move while a plan runs, so every plan
is on time and the figure is the pure compute cost, read from ``planner.stats.plan_ns``.
Budget: a plan must be ready ``min(80 ms, a quarter beat)`` before its beat.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from rtgen.assets import ASSETS
from rtgen.bench.stats import summary
from rtgen.config import PlaySettings
from rtgen.engine.build import engine_config
from rtgen.engine.engine import PLAN_AHEAD_MAX_NS
from rtgen.engine.offline import OfflineRig
from rtgen.engine.planner import PlanStats
from rtgen.io.midifile import read_midi
from rtgen.midi import note_off, note_on

PLAN_BEATS = 256
MODE = "duet"


def _call_inputs(rig: OfflineRig, channel: int) -> list[tuple[int, tuple[int, ...]]]:
    """The demo call, from beat 1, as timed raw messages."""
    inputs = []
    for n in read_midi(ASSETS / "demo_call.mid").notes:
        t_on, t_off = rig.beats_to_ns(1 + n.start), rig.beats_to_ns(1 + n.end)
        inputs += [
            (t_on, note_on(channel, n.pitch, n.velocity)),
            (t_off, note_off(channel, n.pitch)),
        ]
    return inputs


def _planner_stats(
    model: Path,
    device: str,
    settings: PlaySettings,
    seed: int,
    calls_at: range,
    beats: int,
    chords: bool = False,
) -> PlanStats:
    """The planner's stats after ``beats`` beats of the real engine on ``model`` with
    ``settings``, the demo call played in from each beat of ``calls_at`` (``chords``: and
    a left hand below C4 changing chords mid-beat, CHORD_BEATS apart)."""
    from rtgen.sessions import open_session

    session = open_session(model, device, threads=1)
    rig = OfflineRig(engine_config(settings, seed), session, bpm=settings.bpm)
    inputs = [(t + rig.beats_to_ns(b), m) for b in calls_at for t, m in _call_inputs(rig, 0)]
    if chords:
        inputs += _chord_inputs(rig, beats)
    gc.collect()
    rig.run(inputs, rig.beats_to_ns(1 + beats))
    rig.stop()
    return rig.engine.planner.stats


CHORD_BEATS = 2.0  # the left hand changes chord this often in the steering run
CHORDS = ((36, 52, 55, 58), (41, 48, 51, 57), (43, 47, 50, 53), (45, 48, 52, 55))  # C7 Fm7 G7 Am7


def _chord_inputs(rig: OfflineRig, beats: int) -> list[tuple[int, tuple[int, ...]]]:
    """Chords held below C4 (the split), changed 0.3 beat after every CHORD_BEATS: each
    change falls mid-beat, after the beat was planned, so each is a replan."""
    out = []
    t, i = 0.3, 0
    while t + CHORD_BEATS < beats:
        chord = CHORDS[i % len(CHORDS)]
        out += [(rig.beats_to_ns(t), note_on(0, p, 70)) for p in chord]
        out += [(rig.beats_to_ns(t + CHORD_BEATS) + 1, note_off(0, p)) for p in chord]
        t, i = t + CHORD_BEATS, i + 1
    return out


def harmony_plan_times(
    model: Path, device: str, bpm: float, beats: int = PLAN_BEATS, seed: int = 0
) -> dict:
    """Plan time (ms) in duet mode with chords held below --split C4 and changed every two
    beats, steering on (play's strength) and off (--harmony 0: the chords read, no bias,
    no replans), side by side in one run. Replans count as plans."""
    out = {}
    for key, strength in (("on", PlaySettings.harmony), ("off", 0.0)):
        settings = PlaySettings(
            mode=MODE, bpm=bpm, seed=seed, split="C4", harmony=strength
        ).validate()
        stats = _planner_stats(model, device, settings, seed, range(1), beats, chords=True)
        out[key] = {**(summary(np.asarray(stats.plan_ns, dtype=np.int64), "ms") or {})}
        out[key]["plans"] = stats.plans
    on, off = out["on"], out["off"]
    return {
        **on,
        "bpm": bpm,
        "off_p99": off.get("p99"),
        "added_p99_ms": round(on["p99"] - off["p99"], 3) if "p99" in on and "p99" in off else None,
        "plans_off": off["plans"],
    }


def plan_times(
    model: Path, device: str, bpm: float, beats: int = PLAN_BEATS, seed: int = 0
) -> tuple[dict, np.ndarray]:
    """Figures (ms) of each beat's plan at ``bpm``, and the samples (ns)."""
    settings = PlaySettings(mode=MODE, bpm=bpm, seed=seed).validate()
    stats = _planner_stats(model, device, settings, seed, range(1), beats)
    samples = np.asarray(stats.plan_ns, dtype=np.int64)
    beat_ns = 60e9 / bpm
    figures = summary(samples, "ms") or {}
    figures.update(
        {
            "bpm": bpm,
            "mode": MODE,
            "plans": stats.plans,
            "notes": stats.notes,
            "steps_per_plan": round(stats.steps / max(1, stats.plans), 1),
            "reused_per_plan": round(stats.reused / max(1, stats.plans), 1),
            "budget_ms": round(min(PLAN_AHEAD_MAX_NS, beat_ns / 4) / 1e6, 3),
        }
    )
    return figures, samples


CANDIDATES = (1, 4, 8)  # best of N timed side by side (rtgen bench)
ANSWER_BARS = 8  # long answers: most beats of the run are planned


def candidate_plan_times(
    model: Path, device: str, bpm: float, n: int, beats: int = PLAN_BEATS, seed: int = 0
) -> dict:
    """Figures (ms) of each answer beat's plan with best of ``n`` (the bundled critic), in
    call-response mode (best of N is for answers): the demo call every 40 beats, each
    answered for 8 bars. Also the batched step's cost per candidate against a one-state
    step of the same run (the commits step one state)."""
    settings = PlaySettings(
        bpm=bpm, seed=seed, answer_bars=ANSWER_BARS, candidates=n, silence=1.0
    ).validate()
    stats = _planner_stats(model, device, settings, seed, range(0, beats - 36, 40), beats)
    figures = summary(np.asarray(stats.plan_ns, dtype=np.int64), "ms") or {}
    single = float(np.median(stats.step_ns)) if stats.step_ns else None
    batch = float(np.median(stats.batch_step_ns)) if stats.batch_step_ns else None
    figures.update(
        {
            "bpm": bpm,
            "candidates": n,
            "plans": stats.plans,
            "single_step_us": round(single / 1e3, 1) if single else None,
            "batch_step_us": round(batch / 1e3, 1) if batch else None,
            "per_candidate_vs_single": round(batch / n / single, 3) if batch and single else None,
            "critic_ms_p50": round(float(np.median(stats.critic_ns)) / 1e6, 3)
            if stats.critic_ns
            else None,
        }
    )
    return figures
