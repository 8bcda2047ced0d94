"""Grace notes over real JACK ports (rtgen/engine/ornament.py): a player who flicks into
every note from a grace note is answered with grace notes, and the answer stays a line;
with --ornament 0 it has none. The bundled model; rtgen as a subprocess."""

from __future__ import annotations

import signal
import time

from tests.support.play import Rig

BPM = 120.0
BEAT_S = 60.0 / BPM
LINE = [64, 67, 69, 67, 64, 62, 60, 62]
GRACE_S = 0.030  # the player's grace notes: 30 ms before each note (but the first)
SHORT_S = 0.08  # a model note this short is a grace note (a grid step is 42 ms here)
# Two messages due at one time (a grace's note-off, its note's note-on) arrive together;
# this allows a JACK period or two and a stall of the send thread between them.
TOGETHER_S = 0.010


def _flick(rig: Rig) -> None:
    """Two bars, one note a beat, each but the first led into from a 4th below."""
    for i, p in enumerate(LINE):
        if i:
            rig.kbd.send([0x90, p - 5, 80])
            time.sleep(GRACE_S)
            rig.kbd.send([0x80, p - 5, 0])
        rig.kbd.send([0x90, p, 96])
        time.sleep(BEAT_S * 0.85 - (GRACE_S if i < len(LINE) - 1 else 0))
        rig.kbd.send([0x80, p, 0])
        time.sleep(BEAT_S * 0.15)


def _notes(got: list, since: float) -> list[tuple[float, float, int]]:
    """(on, off, pitch) of the notes the synth heard since ``since``."""
    open_: dict[int, float] = {}
    out = []
    for t, m in got:
        if t < since:
            continue
        if m[0] & 0xF0 == 0x90 and m[2]:
            open_[m[1]] = t
        elif m[0] & 0xF0 in (0x80, 0x90) and m[1] in open_:
            out.append((open_.pop(m[1]), t, m[1]))
    return sorted(out)


def _answer(rig: Rig, *flags: str) -> tuple[list[tuple[float, float, int]], float]:
    """The notes of the answer to the flicked call, and the grace notes rtgen says it sent."""
    proc = rig.start("--seed", "3", "--silence", "1", *flags)
    t0 = time.perf_counter()
    _flick(rig)
    time.sleep(2 * 4 * BEAT_S + 2 * BEAT_S)  # the two-bar answer
    code, _ = proc.stop(signal.SIGINT, timeout_s=10)
    assert code == 0, proc.stderr()
    assert rig.synth.sounding() == 0
    return _notes(list(rig.synth.got), t0), proc.stats()["graces"]


def test_a_call_with_grace_notes_gets_grace_notes_back_and_a_line(rig: Rig) -> None:
    notes, sent = _answer(rig)
    assert len(notes) >= 4, notes
    graces = [n for n in notes if n[1] - n[0] < SHORT_S]
    print(f"{len(notes)} notes, {sent:.0f} grace notes sent, {len(graces)} heard under 80 ms")
    assert sent > 0 and len(graces) >= sent, (sent, notes)
    for _, off, pitch in graces:  # each leads into the next note, as it ends
        assert any(abs(b_on - off) < TOGETHER_S and b_p != pitch for b_on, _, b_p in notes), notes
    for (a_on, a_off, _), (b_on, _, _) in zip(notes, notes[1:]):
        assert a_off <= b_on + TOGETHER_S or abs(a_on - b_on) < TOGETHER_S, ("overlap", notes)
    rig.synth.clear()
    plain, sent = _answer(rig, "--ornament", "0")
    assert plain and sent == 0, plain
