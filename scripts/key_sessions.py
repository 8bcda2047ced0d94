"""How well rtgen keeps to the key over a session of calls from real tunes, per half-life of
its key tracker (docs/harmony.md, "How fast the key follows the player").

    python scripts/key_sessions.py data/tune-human --half-life 32 16 8 0 --seeds 4

Each part's every other two-bar window (up to ``--calls``) is a call; the engine answers in
between, offline, with play's defaults, and its key tracker carries over from call to call.
Each answer after the first is judged against the key of its call, and against the key of
the call and its true continuation together. Half-life 0: no fading.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import rtgen.engine.engine as engine_module
from rtgen.config import PlaySettings
from rtgen.jam import jam_offline
from rtgen.score.calls import WINDOW_BEATS, Call, cut_calls, read_parts
from rtgen.score.metrics import call_scale
from rtgen.sessions import open_play_session

CYCLE_BEATS = 18.0  # a call, its two-bar answer after the one-beat silence, and a beat


def sessions(folder: Path, calls_per_part: int) -> list[list[Call]]:
    """Per part with at least 3: its calls two windows apart, in order."""
    out = []
    for path in sorted(folder.glob("*.mid")):
        for name, notes in read_parts(path):
            chosen: list[Call] = []
            for c in sorted(cut_calls(str(path), name, notes)[0], key=lambda c: c.bar):
                if not chosen or c.bar >= chosen[-1].bar + 2 * 2:  # two windows of two bars
                    chosen.append(c)
            if len(chosen) >= 3:
                out.append(chosen[:calls_per_part])
    return out


def in_key(session, parts: list[list[Call]], seeds: int) -> tuple[float, float, int]:
    """(share in the call's key, share in the passage's key, notes judged)."""
    by_call = by_passage = total = 0
    for calls in parts:
        prime = [
            replace(n, start=n.start + i * CYCLE_BEATS, end=n.end + i * CYCLE_BEATS)
            for i, c in enumerate(calls)
            for n in c.call
        ]
        passages = [
            list(c.call)
            + [replace(n, start=n.start + WINDOW_BEATS, end=n.end + WINDOW_BEATS) for n in c.truth]
            for c in calls
        ]
        for seed in range(seeds):
            session.reset()
            settings = PlaySettings(seed=seed).validate()
            res = jam_offline(session, settings, seed, prime, CYCLE_BEATS - WINDOW_BEATS)
            for i in range(1, len(calls)):  # the first call has no earlier key to lag on
                lo = i * CYCLE_BEATS + WINDOW_BEATS
                answer = [n for n in res.model if lo <= n.start < (i + 1) * CYCLE_BEATS]
                key, passage_key = call_scale(calls[i].call), call_scale(passages[i])
                by_call += sum(n.pitch % 12 in key for n in answer)
                by_passage += sum(n.pitch % 12 in passage_key for n in answer)
                total += len(answer)
    return by_call / max(total, 1), by_passage / max(total, 1), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--half-life", type=float, nargs="+", default=[16.0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--calls", type=int, default=8, help="calls per part at most")
    args = ap.parse_args()
    parts = sessions(args.folder, args.calls)
    session = open_play_session(None, "cpu")
    for half_life in args.half_life:
        engine_module.PLAY_HALF_LIFE_BEATS = half_life if half_life > 0 else None
        call, passage, notes = in_key(session, parts, args.seeds)
        print(
            f"half-life {half_life:g}: {len(parts)} sessions, {notes} notes; "
            f"in the call's key {call:.3f}, in the passage's key {passage:.3f}"
        )


if __name__ == "__main__":
    main()
