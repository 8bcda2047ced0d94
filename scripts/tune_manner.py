"""Tune the manner strengths and the memory weight: rtgen's answers only (no baselines, no
NLL), with any PlaySettings changed, on the calls `rtgen score` cuts (docs/manner.md).

    python scripts/tune_manner.py data/tune-human --seeds 2 --set density=1.5 --set texture=6
    python scripts/tune_manner.py data/tune-human --grid density=0.5,1,2 --seeds 2

Prints one line per setting: the acceptance figures of issue 15 (medians for density, means
for the rest, as rtgen score), plus the answers' mean |velocity - the call's mean velocity|.
Use the validation split only (data/tune-*): the test split is for the final figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rtgen.commands.inspect_cmd import find_midi_files
from rtgen.config import PlaySettings
from rtgen.score import metrics as M
from rtgen.score.answers import engine_answer, settings_for
from rtgen.score.runner import collect_calls
from rtgen.sessions import open_session

KEYS = (
    "notes",
    "density_vs_call",
    "polyphony",
    "ioi_l1",
    "grid_triplet",
    "grid_off",
    "echo",
    "motif_share",
    "copy",
    "in_key",
    "mean_pitch_gap",
    "interval_l1",
)


def answer(session, call, settings: PlaySettings) -> list:
    return engine_answer(session, call, settings.seed, settings)


def run(session, calls, seeds: int, changes: dict) -> dict:
    rows, div, vel = [], [], []
    t0 = time.perf_counter()
    plan_ms: list[float] = []
    for c in calls:
        answers = []
        for seed in range(seeds):
            s = replace(settings_for(seed), **changes).validate()
            a = answer(session, c.call, s)
            answers.append(a)
            rows.append(M.answer_metrics(a, c.call, c.truth))
            if a:
                vel.append(
                    abs(np.mean([n.velocity for n in a]) - np.mean([n.velocity for n in c.call]))
                )
        div.append(M.diversity(answers))
    out = {}
    for k in KEYS:
        vals = [r[k] for r in rows if r[k] is not None]
        out[k] = float(np.median(vals) if k == "density_vs_call" else np.mean(vals))
    out["diversity"] = float(np.mean([d for d in div if d is not None]))
    out["velocity_gap"] = float(np.mean(vel)) if vel else None
    out["silent"] = float(np.mean([r["silent"] for r in rows]))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    del plan_ms
    return out


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="field=value (all runs)")
    ap.add_argument("--grid", action="append", default=[], help="field=v1,v2,... (each)")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="append results to this file")
    args = ap.parse_args()
    from rtgen.assets import default_play_model

    session = open_session(args.model or default_play_model("cpu"), "cpu")
    calls = collect_calls(find_midi_files(args.data)).calls
    base = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    axes = [(k, [_value(x) for x in v.split(",")]) for k, v in (g.split("=", 1) for g in args.grid)]
    print(f"{len(calls)} calls, {args.seeds} seeds; base {base}", file=sys.stderr)
    print(
        "setting".ljust(40) + "".join(f"{k[:9]:>10}" for k in (*KEYS, "diversity", "velocity_gap"))
    )
    for values in itertools.product(*[v for _, v in axes]) if axes else [()]:
        changes = {**base, **{k: v for (k, _), v in zip(axes, values)}}
        res = run(session, calls, args.seeds, changes)
        label = ",".join(f"{k}={v}" for k, v in changes.items()) or "defaults"
        cells = "".join(
            f"{res[k]:10.3f}" if res[k] is not None else f"{'-':>10}"
            for k in (*KEYS, "diversity", "velocity_gap")
        )
        print(f"{label[:39]:<40}{cells}  {res['seconds']}s", flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "data": [str(d) for d in args.data],
                            "seeds": args.seeds,
                            "changes": changes,
                            **res,
                        }
                    )
                    + "\n"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
