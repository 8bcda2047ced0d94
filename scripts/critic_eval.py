"""Does the critic pick better answers? Issue 16's acceptance figures, side by side.

    python scripts/critic_eval.py data/score-human --candidates 4 --out runs/critic/eval.json

On the calls `rtgen score` cuts from FILES, each answered through the real engine (play's
defaults, two bars) by:

- ``critic``: best of N, the critic's pick at every beat (the bundled critic, or --critic);
- ``random``: best of N from the same sampler, a seeded coin picking at every beat instead;
- ``one``: one candidate (N = 1).

Reports the mean truth-relative metrics of each (pitch-class, interval and inter-onset L1,
mean-pitch and range gaps, |log density ratio| to the truth: lower is closer), diversity
across seeds, copy rate, and the critic's ROC AUC on (call, truth) against (call, the
critic-picked answer), both two bars.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import rtgen.critic.session as critic_session
from rtgen.assets import default_critic, default_play_model
from rtgen.commands.inspect_cmd import find_midi_files
from rtgen.critic.features import row
from rtgen.critic.session import CriticSession
from rtgen.score import metrics as M
from rtgen.score.answers import engine_answer, settings_for
from rtgen.score.runner import collect_calls
from rtgen.sessions import open_session
from training.critic import CoinCritic, roc_auc

CLOSER = ("pc_l1_truth", "interval_l1", "ioi_l1", "mean_pitch_gap", "range_gap", "density_gap")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--critic", type=Path, default=default_critic())
    ap.add_argument("--out", type=Path)
    ap.add_argument("--limit", type=int, help="every k-th call, for a quick look")
    ap.add_argument("--systems", default="critic,random,one")
    args = ap.parse_args()
    calls = collect_calls(find_midi_files(args.data)).calls
    if args.limit:
        calls = calls[:: max(1, len(calls) // args.limit)]
    session = open_session(default_play_model("cpu"), "cpu")
    judge = CriticSession.open(args.critic)
    real_open = critic_session.CriticSession.open
    systems = {"critic": args.candidates, "random": args.candidates, "one": 1}
    systems = {k: systems[k] for k in args.systems.split(",")}
    report: dict = {"calls": len(calls), "seeds": args.seeds, "candidates": args.candidates}
    picked: list = []
    for name, n in systems.items():
        t0 = time.perf_counter()
        if name == "random":  # the engine opens the critic by path: hand it the coin
            coin = CoinCritic(0)
            critic_session.CriticSession.open = classmethod(lambda cls, path, coin=coin: coin)
        rows: dict[str, list[float]] = {k: [] for k in (*CLOSER, "copy")}
        div = []
        for c in calls:
            answers = []
            for seed in range(args.seeds):
                s = replace(settings_for(seed), candidates=n, critic=str(args.critic))
                a = engine_answer(session, c.call, seed, s)
                answers.append(a)
                m = M.answer_metrics(a, c.call, c.truth)
                ratio = m["density_vs_truth"]
                m["density_gap"] = abs(math.log(ratio)) if ratio else None
                for k in rows:
                    if m.get(k) is not None:
                        rows[k].append(float(m[k]))
                if name == "critic" and seed == 0:
                    picked.append((c, a))
            d = M.diversity(answers)
            if d is not None:
                div.append(d)
        critic_session.CriticSession.open = real_open
        report[name] = {k: float(np.mean(v)) for k, v in rows.items()}
        report[name]["diversity"] = float(np.mean(div))
        report[name]["seconds"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(report[name]), flush=True)
    if not picked:
        return
    x = [row(c.call, c.truth) for c, _ in picked] + [row(c.call, a) for c, a in picked]
    y = np.array([1] * len(picked) + [0] * len(picked))
    report["auc_vs_critic_picked"] = roc_auc(judge.scores(np.stack(x)), y)
    better = [k for k in CLOSER if "random" in report and report["critic"][k] < report["random"][k]]
    report["closer_than_random"] = better
    print(f"AUC {report['auc_vs_critic_picked']:.4f}; critic closer on {len(better)}/6: {better}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
