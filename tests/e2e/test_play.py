"""The real `rtgen play` over real JACK ports, with the bundled model.

A test keyboard (an rtmidi JACK client with a virtual output) plays calls; a test synth (a
JACK client with a virtual input) records what rtgen sends, stamped on arrival by JACK (the
``rig`` fixture, tests/support/, shared with the reliability suite). rtgen runs as a
subprocess and is only ever talked to through its ports and signals.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import numpy as np

from rtgen.bench.stalls import MachineStalls
from rtgen.engine.keys import parse_key, scale_pitch_classes
from rtgen.events import Role
from rtgen.io.midifile import read_midi
from rtgen.replay import replay
from tests.support.calls import CYCLE_BEATS, GATE, MODULATING_CALLS
from tests.support.jack import jack_ports
from tests.support.peers import KBD, SYNTH, SYNTH_PORT, Synth
from tests.support.play import RTGEN, Rig, Rtgen
from tests.support.timing import deadline_errors_ms

BPM = 120.0
BEAT_S = 60.0 / BPM


def _stop(proc: Rtgen) -> tuple[int, str, float]:
    """SIGINT, wait; (exit code, its stderr, seconds it took)."""
    code, took = proc.stop(signal.SIGINT, timeout_s=10)
    return code, proc.stderr(), took


CALL_C = [60, 62, 64, 65, 67, 65, 64, 62]  # two bars of C major, one note a beat


def test_answer_comes_after_the_silence_and_stops_cleanly_on_sigint(rig: Rig) -> None:
    """The answer's first note arrives between 1 and 2 beats after the call's last note-off
    (silence = 1 beat, then the next grid beat), never while a call key is held; SIGINT
    leaves zero notes sounding, exits 0 within a second, and --record holds both parts."""
    record = rig.tmp / "session.mid"
    proc = rig.start("--seed", "1", "--record", str(record))
    with MachineStalls() as stalls:
        t_call = time.perf_counter()
        t_off = rig.kbd.play(CALL_C, BEAT_S)
        during_call = rig.synth.note_ons()
        time.sleep(3.0)  # in the middle of the two-bar answer
    ons = rig.synth.note_ons(t_call)
    code, err, took = _stop(proc)
    assert not during_call  # nothing while the call's keys were down
    assert ons, err
    first = ons[0][0] - t_off
    # past the last beat it may start on, only while the machine itself stalled
    held_up = stalls.held_up(ons[0][0], (first - 2 * BEAT_S) * 1e3, 5.0)
    assert BEAT_S - 0.005 <= first <= 2 * BEAT_S + 0.005 or held_up, (first, stalls.summary())
    assert code == 0 and took < 1.0, err
    assert rig.synth.sounding() == 0
    notes = read_midi(record).notes
    assert {n.role for n in notes} == {Role.PLAYER, Role.MODEL}
    assert len([n for n in notes if n.role == Role.PLAYER]) == len(CALL_C)


def test_answers_land_on_their_deadlines_and_in_the_key_of_the_call(rig: Rig) -> None:
    """Over four diatonic calls, each model onset arrives at the synth within 2 ms of the
    deadline the planner gave it (p99, in absolute time: the session's log replayed gives
    every deadline; the JACK period is 1.33 ms), none is lost, and >= 70% of answer notes
    are in the call's key.

    The key share is judged on about 27 notes whose sampling the live timing reseeds: the
    engine offline scores 95% on the same calls over 40 seeds (tests/engine/
    test_answers_in_key.py holds that claim), and runs here ranged 85-100%. 70% still fails
    most live paths that lose the key: calls heard a semitone off give 64% offline, a
    tritone off 48%."""
    log = rig.tmp / "s.jsonl"
    proc = rig.start("--seed", "2", "--log", str(log))
    in_key, total, outside = 0, 0, {}
    with MachineStalls() as stalls:
        for key, pitches in MODULATING_CALLS.items():
            t0 = time.perf_counter()
            rig.kbd.play(pitches, BEAT_S, gate=GATE)
            time.sleep((CYCLE_BEATS - len(pitches)) * BEAT_S)  # the two-bar answer and a rest
            ons = rig.synth.note_ons(t0)
            scale = scale_pitch_classes(*parse_key(key), leading_tone=True)
            in_key += sum(1 for _, p in ons if p % 12 in scale)
            total += len(ons)
            outside[key] = [p for _, p in ons if p % 12 not in scale]
    code, err, _ = _stop(proc)
    assert code == 0, err
    assert total >= 8, err
    share = in_key / total
    planned = [(t, m) for t, m in replay(log).sent if m[0] & 0x0F == 0]  # the model's channel
    times, signed, lost = deadline_errors_ms(list(rig.synth.got), planned)
    errors = np.abs(signed)
    # the p99 is taken over the onsets the machine itself did not hold up (rtgen/bench/stalls.py)
    ours = [e for t, e in zip(times, errors) if not stalls.held_up(t, e, 2.0)]
    print(
        f"in-key share {share:.1%} of {total}; onset error p50 {np.percentile(errors, 50):.2f} "
        f"p99 {np.percentile(errors, 99):.2f} max {errors.max():.2f} ms; "
        f"{len(errors) - len(ours)} held up by the machine ({stalls.summary()}); "
        f"out of key: {outside}"
    )
    assert share >= 0.7, outside
    assert lost == 0 and len(times) == total, (lost, len(times), total)
    assert np.percentile(ours, 99) <= 2.0


def test_wrong_port_name_lists_what_exists(rig: Rig) -> None:
    """A port name that matches nothing is one line naming the ports that exist, exit 2."""
    res = subprocess.run(
        [*RTGEN, "play", "--api", "jack", "--in", KBD, "--out", "NoSuchSynth"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "NoSuchSynth" in lines[0] and SYNTH in lines[0]


def test_virtual_ports_appear_for_a_daw(rig: Rig) -> None:
    """--virtual creates 'rtgen in' and 'rtgen out' ports that other clients can connect to."""
    proc = rig.start("--seed", "3", virtual=True)
    ports = "\n".join(jack_ports())
    code, err, _ = _stop(proc)
    assert "rtgen in" in ports and "rtgen out" in ports, ports
    assert code == 0, err


# A tick gap this far from the clock's period is a jump of the clock itself (ticks otherwise
# jitter by about a JACK period, 1.33 ms, as the receiving client reads them once a cycle).
CLOCK_JUMP_MS = 3.0
# After a jump the follower's two-beat fit holds old ticks for two beats, and a note is planned
# up to 1.25 beats before it sounds: onsets this long after a jump follow the old phase.
CLOCK_SETTLE_BEATS = 3.5


def test_follows_an_external_midi_clock(rig: Rig) -> None:
    """With --clock external and jack_midi_clock at 100 BPM, every onset of the answer lies on
    the clock's 1/12-beat grid (two ticks, counted from Start) within 10 ms, judged against the
    ticks as they arrived at a second test input: rtgen follows the DAW's phase and tempo, not
    its own 120.

    Two things are the machine's, not rtgen's, and are reported apart: onsets the machine held
    up (canaries, rtgen/bench/stalls.py), and onsets just after the clock itself jumped. A
    stall of the JACK server moves jack_midi_clock's phase by as much for good (the dummy
    driver re-anchors its cycles after an xrun: SIGSTOP of jackd for 30 ms moved the ticks
    +29 ms, measured), as a DAW's clock jumps after its own xrun; rtgen's fit follows within
    CLOCK_SETTLE_BEATS, which is what a follower can do."""
    env = dict(os.environ)
    ticks_in = Synth("rtgenTestTicks")
    clock = subprocess.Popen(
        ["jack_midi_clock", "-b", "100"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stalls = MachineStalls().start()
    try:
        proc = rig.start("--clock", "external", "--seed", "4", virtual=True)
        ports = jack_ports()
        src_in = [p for p in ports if "rtgen in" in p][0]
        dst_out = [p for p in ports if "rtgen out" in p][0]
        for a, b in (
            ("jack_midi_clock:mclk_out", src_in),
            ("jack_midi_clock:mclk_out", ticks_in.port),
            (rig.kbd.port, src_in),
            (dst_out, rig.synth.port),
        ):
            subprocess.run(["jack_connect", a, b], check=True, timeout=10)
        subprocess.run(["jack_transport"], input="play\nquit\n", text=True, timeout=10)
        time.sleep(1.5)  # a few beats of clock to lock on
        beat_s = 0.6
        t0 = time.perf_counter()
        rig.kbd.play(CALL_C, beat_s=beat_s)
        time.sleep(beat_s * 8 + 1.0)
        ons = sorted(t for t, _ in rig.synth.note_ons(t0))
        code, err, _ = _stop(proc)
        subprocess.run(["jack_transport"], input="stop\nquit\n", text=True, timeout=10)
        got = ticks_in.got
    finally:
        clock.terminate()
        clock.wait(timeout=5)
        stalls.stop()
        ticks_in.delete()
    assert code == 0, err
    assert len(ons) >= 4, err
    ticks = _ticks_since_start(got)
    # Over whole beats: single gaps come in whole JACK periods (24.0 or 25.3 ms at 100 BPM).
    period_ms = float(np.median(ticks[24:] - ticks[:-24])) / 24 * 1e3
    # The onsets are judged against the ticks as they arrived, so the reference clock's exact
    # tempo does not matter; it only has to be far from rtgen's own 120 BPM. A loaded machine
    # makes jack_midi_clock run slow (99.49 BPM was seen on a fresh clone), so no tight bound:
    # this checks the test's instrument, not rtgen.
    assert abs(60_000 / (24 * period_ms) - 100.0) < 5.0, period_ms
    jumps = _clock_jumps(ticks, period_ms)
    errors = np.array([_grid_error_ms(ticks, t, period_ms) for t in ons])
    settle_s = CLOCK_SETTLE_BEATS * 24 * period_ms / 1e3
    after_jump = np.array(
        [any(j - period_ms / 1e3 <= t <= j + settle_s for j, _ in jumps) for t in ons]
    )
    own, machine = stalls.judge(list(np.array(ons)[~after_jump]), errors[~after_jump], 10.0)
    print(
        f"{len(ons)} onsets; off the clock's grid p99 {np.percentile(errors, 99):.2f} ms, "
        f"judged {np.percentile(errors[~after_jump], 99):.2f} ms; over 10 ms: {own} rtgen's "
        f"own, {machine} during machine stalls; {int(after_jump.sum())} onsets within "
        f"{CLOCK_SETTLE_BEATS} beats of a clock jump (jumps, ms: "
        f"{[round(size, 1) for _, size in jumps]}); {stalls.summary()}"
    )
    # Not vacuous: a jump excuses at most CLOCK_SETTLE_BEATS of the 8-beat answer.
    assert (~after_jump).sum() >= 4, (len(ons), jumps)
    assert not own, own


def _ticks_since_start(got: list[tuple[float, list[int]]]) -> np.ndarray:
    """Arrival times of the clock ticks after the first Start: tick i marks beat i / 24."""
    start = next(i for i, (_, m) in enumerate(got) if m[0] == 0xFA)
    return np.array([t for t, m in got[start:] if m[0] == 0xF8])


def _clock_jumps(ticks: np.ndarray, period_ms: float) -> list[tuple[float, float]]:
    """(arrival of the tick after the gap, gap minus the period in ms) for each gap between
    ticks more than CLOCK_JUMP_MS off the period."""
    excess = np.diff(ticks) * 1e3 - period_ms
    return [(float(ticks[i + 1]), float(e)) for i, e in enumerate(excess) if abs(e) > CLOCK_JUMP_MS]


def _grid_error_ms(ticks: np.ndarray, t: float, period_ms: float) -> float:
    """How far (ms) an onset at ``t`` lies from the clock's 1/12-beat grid (even ticks), by a
    line through the ticks of the two beats before it: the ticks the follower had heard."""
    idx = np.arange(len(ticks))
    near = (ticks <= t) & (ticks > t - 48 * period_ms / 1e3)
    if near.sum() < 2:  # the answer starts beats after Start, so this does not happen
        raise AssertionError(f"no clock ticks heard before the onset at {t:.3f}")
    slope, intercept = np.polyfit(idx[near], ticks[near], 1)  # seconds per tick
    pos = (t - intercept) / slope  # in ticks since Start
    return float(abs(pos / 2 - round(pos / 2)) * 2 * slope * 1e3)


def test_demo_plays_to_a_port_and_leaves_nothing_sounding(rig: Rig) -> None:
    """`rtgen demo --out PORT` plays the call and the answer to a real JACK port, in time,
    and ends every note it started."""
    t0 = time.perf_counter()
    res = subprocess.run(
        [*RTGEN, "demo", "-o", str(rig.tmp / "demo"), "--seed", "3", "--api", "jack"]
        + ["--out", SYNTH],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    time.sleep(0.3)
    played = read_midi(rig.tmp / "demo" / "demo.mid").notes
    ons = rig.synth.note_ons(t0)
    assert len(ons) == len(played) and "played" in res.stdout, (len(ons), len(played))
    assert rig.synth.sounding() == 0


class _Loud:
    """`rtgen play` without --quiet: its stderr read on a thread, so the start line (the
    ports it opened) can be awaited while it runs."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*RTGEN, "play", "--api", "jack", "--seed", "6", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def started(self, timeout_s: float = 30.0) -> str:
        """The start line ("rtgen: call-response at 120 BPM, in '...', out '...', ...")."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            hit = [ln for ln in self.lines if ln.endswith("Ctrl-C to stop")]
            if hit:
                return hit[0]
            assert self.proc.poll() is None, self.lines
            time.sleep(0.05)
        raise AssertionError(f"no start line within {timeout_s} s: {self.lines}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        return code


def _in_out(start_line: str) -> tuple[str, str]:
    found = re.search(r"in '([^']+)', out '([^']+)'", start_line)
    assert found, start_line
    return found.group(1), found.group(2)


def test_several_rtgens_print_real_port_names_and_can_be_chained(rig: Rig) -> None:
    """A second `rtgen play --virtual` prints the names JACK gave its ports ('rtgen-in-02:
    rtgen in'), and they exist; `--in rtgen-out` takes the first rtgen's output although the
    process's own output has the same client name."""
    jams: list[_Loud] = []
    try:
        first = _Loud("--virtual")
        jams.append(first)
        first_in, first_out = _in_out(first.started())
        assert (first_in, first_out) == ("rtgen-in:rtgen in", "rtgen-out:rtgen out")
        chained = _Loud("--in", "rtgen-out", "--out", SYNTH)
        jams.append(chained)
        assert _in_out(chained.started()) == (first_out, SYNTH_PORT)
        second = _Loud("--virtual")
        jams.append(second)
        second_in, second_out = _in_out(second.started())
        listed = jack_ports()
        assert re.fullmatch(r"rtgen-in-\d\d:rtgen in", second_in), second_in
        assert re.fullmatch(r"rtgen-out-\d\d:rtgen out", second_out), second_out
        assert {first_in, first_out, second_in, second_out} <= set(listed), listed
        wired = subprocess.run(["jack_lsp", "-c", first_out], capture_output=True, text=True)
        assert re.search(r"^\s+rtgen-in-\d\d:rtgen in$", wired.stdout, re.M), wired.stdout
    finally:
        codes = [jam.stop() for jam in jams]
    assert codes == [0] * len(jams), [jam.lines for jam in jams]
