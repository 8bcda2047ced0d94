"""Whatever comes down the cable: fuzzed bytes, a flood, rtgen's own output fed back to it.

Short (CI) by default; ``RTGEN_LONG=1`` runs the long versions: 100,000 fuzz messages, a
10 s flood at 10,000 messages/s, 30 s with the feedback loop wired.
"""

from __future__ import annotations

import random
import subprocess
import time

import numpy as np

from rtgen.bench.stalls import MachineStalls
from tests.reliability import fuzz
from tests.support.jack import jack_ports
from tests.support.play import Rig, pick, send_paced

BPM = 120.0
BEAT_S = 60.0 / BPM
CALL = [60, 62, 64, 65]  # one bar: the answer is one bar too


def _answer(rig: Rig) -> tuple[float | None, bool]:
    """Play CALL: seconds from its last note-off to the first model note-on (or None), and
    whether that is normal: on the first beat after one beat of silence (e2e's bound, +20
    ms), or later only while the machine itself stalled (rtgen/bench/stalls.py)."""
    with MachineStalls() as stalls:
        t_off = rig.kbd.play(CALL, BEAT_S)
        time.sleep(2 * BEAT_S + 0.3)
    ons = rig.synth.note_ons(t_off)
    if not ons:
        return None, False
    delay = ons[0][0] - t_off
    late_ms = (delay - 2 * BEAT_S) * 1e3 - 20.0  # past the bound
    held_up = late_ms > 0 and stalls.excuses(ons[0][0] - late_ms / 1e3, late_ms, 0.0)
    return delay, BEAT_S - 0.01 <= delay <= 2 * BEAT_S + 0.02 or held_up


def test_fuzzed_input_never_crashes_and_the_next_call_is_answered(rig: Rig) -> None:
    """Seeded random MIDI (SysEx up to 64 KB, clock and active-sensing floods, undefined
    statuses, running status, data bytes above 127) leaves rtgen running without a
    traceback, its memory bounded, and it then answers a call normally."""
    count = int(pick(20_000, 100_000))
    messages = fuzz.messages(seed=8, count=count)
    proc = rig.start("--seed", "5")
    rss0 = proc.rss_mb()
    refused = send_paced(rig.kbd, messages, rate=5_000)
    time.sleep(0.5)
    assert proc.alive(), proc.stderr()
    rss1 = proc.rss_mb()
    rig.kbd.all_notes_off()  # the keyboard's own panic: whatever the fuzz left held is up
    time.sleep(0.3)
    delay, answered = _answer(rig)
    code, _ = proc.stop()
    st, err = proc.stats(), proc.stderr()
    sysex = sum(m[0] == 0xF0 for m in messages)
    print(
        f"\nfuzz: {count} messages tried ({sysex} SysEx up to 64 KB, {refused} refused by "
        f"rtmidi); rtgen took {st['in']:.0f}, ignored {st['ignored']:.0f} malformed, dropped "
        f"{st['dropped']:.0f}, gated {st['gated']:.0f}; RSS {rss0:.1f} -> {rss1:.1f} MB; "
        f"answer {delay if delay is None else round(delay, 3)} s after the call; exit {code}; "
        f"left sounding {rig.synth.sounding()}"
    )
    assert code == 0 and "Traceback" not in err, err
    assert st["in"] > count / 2 and st["ignored"] > 0, st
    assert rss1 - rss0 < 20, (rss0, rss1)
    assert answered, (delay, err)
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()


def test_flood_keeps_memory_flat_and_the_next_call_is_answered(rig: Rig) -> None:
    """10,000 messages/s (note-on/off pairs and pitch bends) for 3 s (10 s long): RSS grows
    by at most 20 MB, nothing is left sounding, and the next call is answered in the
    normal bound."""
    seconds, rate = pick(3.0, 10.0), 10_000
    rng = random.Random(3)
    flood: list[list[int]] = []
    while len(flood) < seconds * rate:
        pitch = rng.randrange(128)
        flood += [[0x90, pitch, 1 + rng.randrange(127)], [0x80, pitch, 0]]
        flood.append([0xE0, rng.randrange(128), rng.randrange(128)])
    proc = rig.start("--seed", "9")
    rss0, peak = proc.rss_mb(), 0.0
    for i in range(0, len(flood), rate):  # a second at a time, measuring in between
        send_paced(rig.kbd, flood[i : i + rate], rate=rate)
        peak = max(peak, proc.rss_mb())
    assert proc.alive(), proc.stderr()
    time.sleep(0.5)
    delay, answered = _answer(rig)
    rss1 = proc.rss_mb()
    code, _ = proc.stop()
    st, err = proc.stats(), proc.stderr()
    print(
        f"\nflood: {len(flood)} messages in {seconds:g} s ({rate}/s); rtgen took "
        f"{st['in']:.0f}, dropped {st['dropped']:.0f}, gated {st['gated']:.0f} notes; RSS "
        f"{rss0:.1f} -> peak {peak:.1f} -> {rss1:.1f} MB; next answer "
        f"{delay if delay is None else round(delay, 3)} s after the call; left sounding "
        f"{rig.synth.sounding()}"
    )
    assert code == 0 and "Traceback" not in err, err
    assert max(peak, rss1) - rss0 <= 20, (rss0, peak, rss1)
    assert answered, (delay, err)
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()


def test_input_queue_is_bounded_and_counts_what_it_drops(rig: Rig) -> None:
    """While the engine is stuck in a model step (a 600 ms test hook), a burst of 10,000
    messages overflows the input queue: the oldest are dropped and counted on rtgen's exit
    line, memory stays bounded, and rtgen carries on."""
    proc = rig.start("--mode", "continue", "--seed", "4", env={"RTGEN_TEST_SLOW_STEP_MS": "600"})
    rig.kbd.play([60, 64], 0.25)  # continue mode plans from here on: every step is slow
    time.sleep(0.5)
    rss0 = proc.rss_mb()
    burst = [[0xB0, 1, i % 128] for i in range(int(pick(10_000, 50_000)))]
    send_paced(rig.kbd, burst, rate=50_000)
    time.sleep(0.5)
    rss1 = proc.rss_mb()
    assert proc.alive(), proc.stderr()
    code, _ = proc.stop()
    st, err = proc.stats(), proc.stderr()
    print(
        f"\ninput queue: {len(burst)} messages in a burst while the engine was busy; rtgen "
        f"took {st['in']:.0f}, dropped {st['dropped']:.0f} (counted on its exit line); RSS "
        f"{rss0:.1f} -> {rss1:.1f} MB; exit {code}"
    )
    assert code == 0 and "Traceback" not in err, err
    assert st["dropped"] >= len(burst) - 2 * 4096, st  # at most a queue's worth waited
    assert rss1 - rss0 <= 5.0, (rss0, rss1)


def _rates(times: list[float], t0: float, t1: float, window: float = 0.5) -> np.ndarray:
    edges = np.arange(t0, t1 + window, window)
    counts, _ = np.histogram(times, bins=edges)
    return counts / window


def test_feedback_loop_keeps_the_message_rate_bounded(rig: Rig) -> None:
    """With rtgen's output wired back into its own input (and --thru on, so every note
    would go round forever), a call gets exactly one answer and the output rate stays
    bounded: rtgen never answers itself."""
    seconds = pick(6.0, 30.0)
    proc = rig.start("--seed", "6", "--thru")
    ports = jack_ports()
    ours = [next(p for p in ports if p.endswith(f":rtgen {side}")) for side in ("out", "in")]
    subprocess.run(["jack_connect", *ours], check=True, timeout=10)
    t0 = time.perf_counter()
    t_off = rig.kbd.play(CALL, BEAT_S)
    time.sleep(seconds)
    t1 = time.perf_counter()
    code, _ = proc.stop()
    st, err = proc.stats(), proc.stderr()
    got = [t for t, _ in rig.synth.got if t0 <= t < t1]
    rates = _rates(got, t0, t1)
    answer_end = t_off + (2 + 4) * BEAT_S + 0.1  # a beat of silence, a beat, one bar
    late = rig.synth.note_ons(answer_end, t1)
    model = [t for t, m in rig.synth.got if m[0] == 0x90 and m[2] and t0 <= t < t1]
    print(
        f"\nfeedback: {seconds:g} s wired out->in with --thru; {len(got)} messages out, peak "
        f"{rates.max():.0f}/s; echoes ignored {st['echoes']:.0f}; {len(model)} note-ons, "
        f"{len(late)} after the answer's end; left sounding {rig.synth.sounding()}"
    )
    assert code == 0 and "Traceback" not in err, err
    assert st["echoes"] > 0, st  # the loop was really there
    assert rates.max() <= 100, rates
    assert not late, late
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()
