"""Training curve PNG from a run's metrics.csv (for the model card).

python -m training.plot_curve runs/default/metrics.csv -o docs/training_curve.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.plot_curve", description=__doc__)
    ap.add_argument("metrics", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument(
        "--baseline",
        type=float,
        default=None,
        help="n-gram bits/token on the same split, drawn as a line",
    )
    args = ap.parse_args(argv)
    rows = list(csv.DictReader(open(args.metrics)))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = [int(r["tokens"]) / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(tokens, [float(r["train_bits"]) for r in rows], label="train (last batch)", alpha=0.6)
    ax.plot(tokens, [float(r["valid_bits"]) for r in rows], label="validation", lw=2)
    if args.baseline:
        ax.axhline(args.baseline, color="gray", ls="--", label="n-gram baseline (validation)")
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("bits per token")
    ax.set_ylim(top=min(3.0, max(float(r["valid_bits"]) for r in rows) + 0.2))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{args.metrics.parent.name}: {rows[-1]['minutes']} min")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
