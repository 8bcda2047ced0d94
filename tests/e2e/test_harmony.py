"""Harmonic steering over real JACK ports: a test keyboard holds chords below the split
(C4) with its left hand and plays calls above it; the real `rtgen play --split C4` answers
over the chords, which change mid-answer. Judged at the test synth, in absolute time: the
chord sounding at each answer note's onset (the keyboard's own change times), the beat grid
from the answer's first note (an answer opens on a beat)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

from rtgen.engine.chords import read_chord
from rtgen.replay import replay
from tests.support.peers import KBD, SYNTH, Keyboard
from tests.support.play import RTGEN, Rig

BPM = 120.0
BEAT_S = 60.0 / BPM
STEP_S = BEAT_S / 12
LEGATO_S = 0.03  # the old chord's keys let go this long after the new one's are down
# (call, chord under the call, then the chords the left hand changes to during the answer)
ROUNDS = (
    ([64, 67, 72, 71, 69, 67, 65, 64], [48, 52, 55], [[41, 45, 48], [43, 47, 50, 53]]),
    ([69, 72, 76, 74, 72, 71, 69, 68], [45, 48, 52], [[38, 48, 53, 57], [40, 50, 52, 56]]),
)
CHANGES_AT = (1.3, 3.6)  # beats into the answer: mid-beat, not on the grid


def _change(kbd, old: list[int], new: list[int]) -> float:
    """Legato: the new chord down, then the old one's other keys up; returns when."""
    t = time.perf_counter()
    kbd.send(*([0x90, p, 70] for p in new if p not in old))
    time.sleep(LEGATO_S)
    kbd.send(*([0x80, p, 0] for p in old if p not in new))
    return t


def _notes(got: list, since: float) -> list[tuple[float, float, int]]:
    """(on, off, pitch) of the notes the synth got from ``since`` on."""
    open_, out = {}, []
    for t, m in got:
        if t < since or len(m) < 3 or m[0] & 0xE0 != 0x80:
            continue
        if m[0] & 0xF0 == 0x90 and m[2]:
            open_[m[1]] = t
        elif m[1] in open_:
            out.append((open_.pop(m[1]), t, m[1]))
    return sorted(out)


def _play_round(rig: Rig, call: list[int], first: list[int], later: list[list[int]]):
    """One call over ``first``, chords changed during the answer; (answer notes, [(time,
    tones)] of every chord, the answer's first onset)."""
    kbd = rig.kbd
    kbd.send(*([0x90, p, 70] for p in first))
    chords = [(time.perf_counter(), read_chord(first).tones)]
    t_off = kbd.play(call, BEAT_S)
    assert not rig.synth.note_ons(chords[0][0], t_off), "played during the call"
    deadline = t_off + 4 * BEAT_S
    while not rig.synth.note_ons(t_off) and time.perf_counter() < deadline:
        time.sleep(0.005)
    ons = rig.synth.note_ons(t_off)
    assert ons, "no answer"
    t0, held = ons[0][0], first
    for beats, chord in zip(CHANGES_AT, later):
        time.sleep(max(0.0, t0 + beats * BEAT_S - time.perf_counter()))
        chords.append((_change(kbd, held, chord), read_chord(chord).tones))
        held = chord
    time.sleep(max(0.0, t0 + 9 * BEAT_S - time.perf_counter()))  # the answer is 2 bars
    kbd.send(*([0x80, p, 0] for p in held))
    return _notes(rig.synth.got, t_off), chords, t0


def _tones_at(chords: list, t: float) -> frozenset[int]:
    return [tones for when, tones in chords if when <= t][-1]


def test_answers_follow_the_chords_held_below_the_split(rig: Rig) -> None:
    """Two calls over held chords, two chord changes in each answer: on the beats >= 0.8 of
    the answer (by duration) are chord tones, >= 0.6 overall; the first note one grid step
    or more after each change fits the new chord; nothing is left sounding; the chords
    were never answered (the answers start after the calls, not after the chords)."""
    proc = rig.start("--seed", "5", "--split", "C4")
    fit = total = fit_strong = total_strong = 0.0
    arrivals = []
    for call, first, later in ROUNDS:
        notes, chords, t0 = _play_round(rig, call, first, later)
        assert notes, proc.stderr()
        for on, off, pitch in notes:
            ok = pitch % 12 in _tones_at(chords, on)
            length = max(off - on, STEP_S)
            fit, total = fit + ok * length, total + length
            beats = (on - t0) / BEAT_S
            if abs(beats - round(beats)) * BEAT_S < STEP_S / 2:
                fit_strong, total_strong = fit_strong + ok * length, total_strong + length
        for when, tones in chords[1:]:
            after = [n for n in notes if n[0] >= when + STEP_S]
            if after:
                arrivals.append(after[0][2] % 12 in tones)
        time.sleep(2 * BEAT_S)
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()
    overall, strong = fit / total, fit_strong / total_strong
    assert strong >= 0.8 and overall >= 0.6, (strong, overall, proc.stderr())
    assert len(arrivals) >= 3 and all(arrivals), arrivals
    assert proc.stats()["stuck_keys"] == 0  # chords held for bars: no key taken for lost


def test_the_status_line_shows_the_held_chord(rig: Rig) -> None:
    """On a terminal, the status line names the chord the left hand holds."""
    master, slave = pty.openpty()
    cmd = [*RTGEN, "play", "--api", "jack", "--in", KBD, "--out", SYNTH, "--split", "C4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"Ctrl-C to stop" not in seen and time.monotonic() < deadline:
            seen += _read(master, 0.1)
        time.sleep(0.5)
        rig.kbd.send([0x90, 50, 70], [0x90, 53, 70], [0x90, 57, 70], [0x90, 60 - 12, 70])
        deadline = time.monotonic() + 4
        while b"chord Dm7" not in seen and time.monotonic() < deadline:
            seen += _read(master, 0.1)
        rig.kbd.send(*([0x80, p, 0] for p in (50, 53, 57, 48)))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        os.close(master)
    assert b"chord Dm7" in seen, seen[-400:]
    assert rig.synth.sounding() == 0


def _read(fd: int, timeout_s: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout_s)
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


CHORDS_KBD = "rtgenTestChords"


def test_chords_from_a_second_port_steer_and_replay(rig: Rig) -> None:
    """--chords PORT: a second keyboard (a chord track) holds F major in the call's register
    (no split: its notes are harmony because of where they come from); the call on the main
    keyboard is answered over F, the chord track's notes never; the session log replays to
    the same notes (the chord port's messages are logged as harmony)."""
    chords_kbd = Keyboard(CHORDS_KBD)
    log = rig.tmp / "session.jsonl"
    try:
        proc = rig.start("--seed", "2", "--chords", CHORDS_KBD, "--log", str(log))
        t_chord = time.perf_counter()
        chords_kbd.send(*([0x90, p, 70] for p in (65, 69, 72)))  # F A C, above C4
        t_off = rig.kbd.play([67, 69, 70, 72, 74, 72, 70, 69], BEAT_S)
        time.sleep(5 * BEAT_S)
        chords_kbd.send(*([0x80, p, 0] for p in (65, 69, 72)))
        code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    finally:
        chords_kbd.delete()
    assert code == 0, proc.stderr()
    assert not rig.synth.note_ons(t_chord, t_off), "the chord (or the call) was answered early"
    notes = _notes(rig.synth.got, t_off)
    assert notes, proc.stderr()
    t0 = notes[0][0]
    strong = [
        p for on, _, p in notes if abs((on - t0) / BEAT_S - round((on - t0) / BEAT_S)) < 1 / 24
    ]
    assert sum(p % 12 in {5, 9, 0} for p in strong) >= 0.8 * len(strong), strong
    assert rig.synth.sounding() == 0, rig.synth.stuck_report()
    played = [m for _, m in replay(log).sent if m[0] & 0xF0 == 0x90 and m[2]]
    heard = [m for t, m in rig.synth.got if t >= t_off and m[0] & 0xF0 == 0x90 and m[2]]
    assert [m[1] for m in played] == [m[1] for m in heard]
