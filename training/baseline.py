"""An interpolated Kneser-Ney n-gram model over rtgen tokens: the bar a model must clear.

    python -m training.baseline --data data/corpus --order 5 --out runs/default/ngram.npz

Counting is here; the model itself (its file format, scoring, and a session the engine can
sample from) is rtgen.ngram, so the package never imports training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.ngram import BITS, MAX_ORDER, Level, NGram, pack


def train_ngram(stream: np.ndarray, order: int = 5) -> NGram:
    """Count every order up to ``order`` in ``stream``: raw counts at the top, continuation
    counts (distinct tokens seen before a k-gram) below it."""
    if not 1 <= order <= MAX_ORDER:
        raise RtgenError(f"n-gram order must be 1..{MAX_ORDER}")
    levels: list[Level] = []
    for k in range(1, order + 1):
        if k == order:
            keys, counts = np.unique(pack(stream, k), return_counts=True)
        else:
            longer = np.unique(pack(stream, k + 1))
            mask = np.uint64((1 << (BITS * k)) - 1)
            keys, counts = np.unique(longer & mask, return_counts=True)
        levels.append(Level.build(keys, counts.astype(np.int64)))
    return NGram(order, levels, T.VOCAB_SIZE)


def bits_per_token_on_split(model: NGram, data_dir: Path, split: str) -> tuple[float, int]:
    """Mean bits per token over every piece of a split, each scored from its own BOS."""
    tokens = np.load(data_dir / f"{split}.npy", mmap_mode="r")
    index = np.load(data_dir / f"{split}_index.npy")
    total, count = 0.0, 0
    for off, length in index:
        lp = model.log2_probs(np.asarray(tokens[off : off + length]))
        total -= float(lp.sum())
        count += len(lp)
    return total / max(count, 1), count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.baseline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--out", required=True, type=Path, help="where to write the .npz")
    args = ap.parse_args(argv)
    from training.data import load_split

    try:
        train = np.asarray(load_split(args.data, "train"))
    except RtgenError as exc:
        print(f"baseline: error: {exc.format_message()}", file=sys.stderr)
        return 2
    model = train_ngram(train, args.order)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    for split in ("valid", "test"):
        bits, n = bits_per_token_on_split(model, args.data, split)
        print(f"{split}: {bits:.4f} bits/token over {n} tokens (order {args.order})")
    size = args.out.stat().st_size / 1e6
    print(f"saved {args.out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
