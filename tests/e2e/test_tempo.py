"""The player sets the tempo, over real JACK ports: `rtgen play --bpm auto` takes tempo and
beat from the first call, and tap tempo (a CC) from a count-in. A call at 96 BPM while
rtgen's clock starts at 120: every answer onset is judged, in absolute time, against the
player's grid (the keyboard's own beat times, 1/12 beat steps)."""

from __future__ import annotations

import signal
import time

import numpy as np

from tests.support.play import Rig

BEAT_S = 60.0 / 96
STEP_S = BEAT_S / 12
CALL = [60, 62, 64, 65, 67, 65, 64, 62]


def _play(rig: Rig, t0: float, pitches: list[int]) -> float:
    """One note a beat on the player's grid from ``t0`` (sleeps to each beat's time);
    returns the last note-off's time."""
    for i, p in enumerate(pitches):
        time.sleep(max(0.0, t0 + i * BEAT_S - time.perf_counter()))
        rig.kbd.send([0x90, p, 90])
        time.sleep(max(0.0, t0 + (i + 0.85) * BEAT_S - time.perf_counter()))
        rig.kbd.send([0x80, p, 0])
    return time.perf_counter()


def _grid_errors_ms(rig: Rig, t0: float, since: float) -> np.ndarray:
    ons = [t for t, _ in rig.synth.note_ons(since)]
    assert ons, "no answer"
    steps = [(t - t0) / STEP_S for t in ons]
    return np.array([abs(s - round(s)) * STEP_S * 1e3 for s in steps])


def _judge(rig: Rig, proc, t0: float, t_off: float) -> None:
    time.sleep(10 * BEAT_S)  # the answer: as long as the call (two bars)
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    errors = _grid_errors_ms(rig, t0, t_off)
    print(
        f"{errors.size} answer onsets on the player's 96 BPM grid: p50 "
        f"{np.percentile(errors, 50):.2f} p99 {np.percentile(errors, 99):.2f} ms"
    )
    assert errors.size >= 4 and np.percentile(errors, 99) <= 5.0, errors
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()


def test_bpm_auto_answers_on_the_grid_of_the_first_call(rig: Rig) -> None:
    proc = rig.start("--seed", "1", "--bpm", "auto")
    t0 = time.perf_counter() + 0.37  # not on any beat of rtgen's provisional 120
    t_off = _play(rig, t0, CALL)
    _judge(rig, proc, t0, t_off)


def test_tap_tempo_sets_the_grid_the_answer_plays_on(rig: Rig) -> None:
    preset = rig.tmp / "tap.toml"
    preset.write_text("[cc]\ntap = 25\n")
    proc = rig.start("--seed", "1", "--config", str(preset))
    t0 = time.perf_counter() + 0.41
    for i in range(4):  # a count-in of four taps, then the call on the fifth beat
        time.sleep(max(0.0, t0 + i * BEAT_S - time.perf_counter()))
        rig.kbd.send([0xB0, 25, 127])
        rig.kbd.send([0xB0, 25, 0])
    t_off = _play(rig, t0 + 4 * BEAT_S, CALL)
    _judge(rig, proc, t0, t_off)
