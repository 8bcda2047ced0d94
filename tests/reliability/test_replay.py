"""`rtgen play --log` then `rtgen replay`: any moment on stage can be played again offline.

A live session over JACK (two calls, the second barging in on the first answer) is logged
and recorded; the replay, on a simulated clock, must play the notes the model played live:
the same notes and pitches, each onset and end within SEND_BOUND_MS of the live one. The live
record holds the times rtgen's send thread actually sent at, so a live time may be a little
late (more when the machine stalled, which canaries beside the session tell: a barge-in cuts a
note anywhere between two grid steps, so rounding the live end to the grid flipped a step
once when the send ran late). A replay that differs at all differs by a grid step or more.
``RTGEN_LONG=1`` plays four calls instead of two.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import deque
from pathlib import Path

import pytest

from rtgen.assets import default_model
from rtgen.bench.stalls import MachineStalls
from rtgen.config import PlaySettings
from rtgen.engine.portproto import FakeOutputPort
from rtgen.events import Role
from rtgen.io.midifile import read_midi
from rtgen.live import LiveJam
from rtgen.replay import ReplayDiverged, bar_aligned, replay, sha256_of
from rtgen.sessions import open_session
from tests.support.play import RTGEN, Rig, pick

BPM = 120.0
BEAT_S = 60.0 / BPM
CALLS = [[60, 62, 64, 65, 67, 65, 64, 62], [67, 65], [62, 65, 69, 67], [72, 71]]


SEND_BOUND_MS = 5.0  # how late a live send may be, as the soak's bound


def _model_notes(notes: list) -> list:
    return [n for n in notes if n.role == Role.MODEL]


def _unexplained(live: list, again: list, beat_s: float, beat0_s: float, stalls) -> list[str]:
    """Where the replayed model notes differ from the live ones beyond a live send's lateness:
    another count or pitch, or an onset or end more than SEND_BOUND_MS off that no machine
    stall held up. Note times are in beats; the file's beat 0 fell at ``beat0_s``
    (perf_counter seconds), where the canaries' stalls are placed."""
    if [n.pitch for n in live] != [n.pitch for n in again]:
        return [f"pitches: live {[n.pitch for n in live]}, replayed {[n.pitch for n in again]}"]
    out = []
    for x, y in zip(live, again):
        for what, t_live, t_again in (("onset", x.start, y.start), ("end", x.end, y.end)):
            late_ms = (t_live - t_again) * beat_s * 1e3
            at = beat0_s + t_live * beat_s
            if abs(late_ms) > SEND_BOUND_MS and not stalls.held_up(at, late_ms, SEND_BOUND_MS):
                out.append(f"{what} of {x.pitch} at beat {t_again:.3f}: live {late_ms:+.1f} ms")
    return out


def _largest_ms(live: list, again: list, beat_s: float) -> float:
    """The largest gap (ms) between a live and a replayed onset or end."""
    gaps = [
        abs(a - b) for x, y in zip(live, again) for a, b in ((x.start, y.start), (x.end, y.end))
    ]
    return max(gaps, default=0.0) * beat_s * 1e3


def _file_beat0_s(origin_ns: int, first_in_beat: float, notes: list, bpm: float, bar: int) -> float:
    """When (perf_counter s) a recorded file's beat 0 fell: the file starts on the bar of its
    first note, so it lies whole bars after the session's beat 0 (at ``origin_ns``); the first
    player note is the first input, logged at ``first_in_beat``."""
    first_player = min(n.start for n in notes if n.role == Role.PLAYER)
    shift = round((first_in_beat - first_player) / bar) * bar
    return origin_ns / 1e9 + shift * 60.0 / bpm


def _compare(log: Path, record: Path, replayed: list, stalls: MachineStalls):
    """The live record's model notes, the replay's, what differs unexplained (_unexplained),
    and the largest gap (ms). Tempo and bar come from the log's header."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    header, first_in = records[0], next(r for r in records if r["k"] == "in")
    bpm, bar = header["settings"]["bpm"], header["settings"]["beats_per_bar"]
    live_notes = read_midi(record).notes
    beat0_s = _file_beat0_s(header["origin_ns"], first_in["b"], live_notes, bpm, bar)
    live, again = _model_notes(live_notes), _model_notes(replayed)
    wrong = _unexplained(live, again, 60.0 / bpm, beat0_s, stalls)
    return live, again, wrong, _largest_ms(live, again, 60.0 / bpm)


def test_replay_reproduces_the_model_notes_of_a_live_session(rig: Rig) -> None:
    """The log holds every input with its time and beat, the seed, the settings and the
    model's sha256; `rtgen replay log -o out.mid` plays exactly the model notes that the
    live session recorded, barge-in included."""
    log, live, again = (rig.tmp / name for name in ("session.jsonl", "live.mid", "replay.mid"))
    with MachineStalls() as stalls:
        proc = rig.start("--seed", "21", "--log", str(log), "--record", str(live))
        for i, call in enumerate(CALLS[: int(pick(2, 4))]):
            rig.kbd.play(call, BEAT_S)
            time.sleep(1.8 * BEAT_S if i % 2 == 0 else 12 * BEAT_S)  # barge in, or let it end
        code, _ = proc.stop()
    assert code == 0, proc.stderr()
    res = subprocess.run(
        [*RTGEN, "replay", str(log), "-o", str(again)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    header, inputs = lines[0], [r for r in lines if r["k"] == "in"]
    a, b, wrong, gap = _compare(log, live, read_midi(again).notes, stalls)
    print(
        f"\nreplay: {len(inputs)} inputs logged ({len(lines)} records, "
        f"{log.stat().st_size / 1e3:.1f} kB); {len(a)} model notes live, {len(b)} replayed, "
        f"{len(a) - len(wrong)} the same (largest gap {gap:.2f} ms); "
        f"{res.stdout.strip()}; {stalls.summary()}"
    )
    assert header["seed"] == 21 and header["settings"]["bpm"] == BPM
    assert header["model_sha256"] == sha256_of(header["model"])
    assert len(inputs) == 2 * sum(len(c) for c in CALLS[: int(pick(2, 4))])
    assert all({"t", "b", "m"} <= r.keys() for r in inputs)
    assert a and not wrong, wrong


class ScriptedInput:
    """An input port (rtgen.engine.portproto.InputPort) that plays ``(seconds, message)`` at
    those times after the first read, stamped when they are handed over, as the rtmidi
    callback would. It never goes away."""

    name = "scripted"

    def __init__(self, script: list[tuple[float, list[int]]]) -> None:
        self.script, self.t0, self.dropped = deque(script), None, 0

    def is_present(self) -> bool:
        return True

    def reconnect(self) -> None:
        """Nothing to reopen."""

    def get(self, timeout: float | None = None) -> tuple[tuple[int, ...], int] | None:
        self.t0 = self.t0 or time.perf_counter_ns()
        now = time.perf_counter_ns()
        if self.script and now >= self.t0 + int(self.script[0][0] * 1e9):
            return tuple(self.script.popleft()[1]), now
        due = self.t0 + int(self.script[0][0] * 1e9) if self.script else now + 10**9
        time.sleep(max(0.0, min(timeout or 0.0, (due - now) / 1e9)))
        return None

    def close(self) -> None:
        """Nothing to release."""


@pytest.mark.parametrize("candidates", [1, 4])
def test_replay_matches_the_live_loop_without_jack(tmp_path: Path, candidates: int) -> None:
    """The live loop on fake ports (no JACK needed), with a barge-in: the replay of its log
    plays exactly the model notes it sent, and a log missing one clock read is reported as
    diverged; so too with best of 4 candidates (the bundled critic picking each beat)."""
    script = []
    for i, pitch in enumerate([60, 62, 64, 65, 67, 65, 64, 62]):
        script += [(0.1 + 0.25 * i, [0x90, pitch, 90]), (0.3 + 0.25 * i, [0x80, pitch, 0])]
    script += [(3.1, [0x90, 70, 80]), (3.3, [0x80, 70, 0])]  # barges in on the answer
    settings = PlaySettings(bpm=240.0, seed=5, silence=1.0, candidates=candidates).validate()
    log, record = tmp_path / "s.jsonl", tmp_path / "s.mid"
    jam = LiveJam(
        settings, open_session(default_model(), "cpu"), ScriptedInput(script),
        FakeOutputPort("synth"), 5, record=record, log_path=log,
    )  # fmt: skip
    with MachineStalls() as stalls:
        assert jam.run(seconds=6.0) == 0
    res = replay(log)
    aligned = bar_aligned(res.player, res.model, settings.beats_per_bar)
    live, again, wrong, gap = _compare(log, record, aligned, stalls)
    print(f"\nreplay without JACK: {len(live)} model notes live, {len(again)} replayed, ", end="")
    print(f"largest gap {gap:.2f} ms; {wrong}")
    assert live and not wrong, wrong
    lines = log.read_text().splitlines()  # a log that lost one clock read is caught
    i = next(i for i, line in enumerate(lines) if '"k":"tick"' in line and '"r":[]' not in line)
    rec = json.loads(lines[i])
    rec["r"] = rec["r"][:-1]
    (tmp_path / "bad.jsonl").write_text("\n".join([*lines[:i], json.dumps(rec), *lines[i + 1 :]]))
    with pytest.raises(ReplayDiverged, match="diverged"):
        replay(tmp_path / "bad.jsonl")


def test_a_log_with_a_malformed_header_is_a_one_line_error(tmp_path: Path) -> None:
    """A log whose header was cut or edited by hand: one line, exit 2, no traceback."""
    log = tmp_path / "s.jsonl"
    log.write_text('{"k": "header", "format": "rtgen-log-1", "seed": "x"}\n')
    res = subprocess.run(
        [*RTGEN, "replay", str(log), "-o", str(tmp_path / "o.mid")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "malformed session log header" in lines[0]
