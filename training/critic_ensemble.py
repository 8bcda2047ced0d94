"""Two critics as one: their scores standardised and summed, exported as one critic file.

    python -m training.critic_ensemble runs/critic3/critic.pt runs/critic4/critic.pt \
        --weights 1,1 --valid data/corpus/valid-human --out runs/critic5

Why (docs/critic.md): the critic ranked on whole answers (training/critic_rank.py) tells
the truth from rtgen's picks well but picks closer to the truth on only half of the metrics;
the one ranked beat by beat, as the planner asks, picks closer on most but tells the truth
from its picks less well. Each score is standardised by its mean and spread over the rows
of validation calls' truths (one random prefix each), so the weights mean what they say.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rtgen import tokens as T
from rtgen.critic.features import FORMAT, ROW_TOKENS, row
from rtgen.score.calls import WINDOW_BEATS
from rtgen.score.runner import collect_calls
from training.critic import Critic, export, prefix


class Ensemble(nn.Module):
    """tokens (N, ROW_TOKENS) -> (N,): sum of w_i * (score_i - mean_i) / std_i."""

    def __init__(self, critics: list[Critic], means, stds, weights) -> None:
        super().__init__()
        self.critics = nn.ModuleList(critics)
        self.register_buffer("mean", torch.tensor(means, dtype=torch.float32))
        self.register_buffer(
            "scale", torch.tensor(np.array(weights) / np.array(stds), dtype=torch.float32)
        )
        self.config = {"ensemble": [c.config for c in critics], "weights": list(weights)}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        s = torch.stack([c(tokens) for c in self.critics], dim=-1)
        return ((s - self.mean) * self.scale).sum(-1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("critics", nargs="+", type=Path, help="critic .pt files")
    ap.add_argument("--weights", default="", help="comma-separated, one per critic (1 each)")
    ap.add_argument("--valid", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    weights = (
        [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(args.critics)
    )
    critics = []
    for path in args.critics:
        c = Critic()
        c.load_state_dict(torch.load(path)["state"])
        c.eval()
        critics.append(c)
    rng = np.random.default_rng(0)
    calls = collect_calls(sorted(args.valid.rglob("*.mid"))).calls[:600]
    rows = np.stack(
        [row(c.call, prefix(c.truth, float(rng.integers(1, int(WINDOW_BEATS) + 1)))) for c in calls]
    )
    with torch.no_grad():
        scores = np.stack([c(torch.from_numpy(rows)).numpy() for c in critics], axis=-1)
    means, stds = scores.mean(0), scores.std(0) + 1e-6
    model = Ensemble(critics, means, stds, weights)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "config": {**model.config, "row_tokens": ROW_TOKENS},
        "vocab": T.describe(),
        "round": "ensemble",
        "members": [str(p) for p in args.critics],
        "weights": weights,
        "objective": "standardised sum of critics (training/critic_ensemble.py)",
    }
    diff = export(model, meta, args.out / "critic.onnx")
    (args.out / "history.json").write_text(json.dumps({**meta, "parity": diff}, indent=1))
    print(f"wrote {args.out / 'critic.onnx'}; parity {diff:.2e}; means {means}, stds {stds}")


if __name__ == "__main__":
    main()
