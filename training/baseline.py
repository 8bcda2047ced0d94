"""An interpolated Kneser-Ney n-gram model over rtgen tokens: the bar a model must clear.

    python -m training.baseline --data data/corpus --order 5 --out runs/default/ngram.npz

n-grams are packed exactly into uint64 keys (9 bits a token, so order <= 7), counted with
numpy, and scored vectorised over a whole sequence at once. The highest order uses raw
counts, lower orders continuation counts (how many distinct tokens precede them), each with
its own absolute discount D = n1 / (n1 + 2 n2); the unigram level interpolates with uniform.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.errors import RtgenError

BITS = 9  # 2**9 = 512 > vocabulary size
MAX_ORDER = 64 // BITS


def pack(stream: np.ndarray, k: int) -> np.ndarray:
    """Keys of every k-gram in ``stream`` (position i holds tokens i..i+k-1)."""
    s = stream.astype(np.uint64)
    n = len(s) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    key = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        key = (key << np.uint64(BITS)) | s[j : j + n]
    return key


@dataclass
class Level:
    """One order: sorted n-gram keys with their (continuation) counts, and context stats."""

    keys: np.ndarray  # uint64, sorted
    counts: np.ndarray  # int64
    ctx_keys: np.ndarray  # uint64, sorted contexts (key >> BITS)
    ctx_total: np.ndarray  # int64, sum of counts over the context's followers
    ctx_types: np.ndarray  # int64, number of distinct followers
    discount: float

    @classmethod
    def build(cls, keys: np.ndarray, counts: np.ndarray) -> Level:
        n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
        d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        ctx = keys >> np.uint64(BITS)
        ctx_keys, first, types = np.unique(ctx, return_index=True, return_counts=True)
        total = np.add.reduceat(counts, first) if len(counts) else counts
        return cls(keys, counts, ctx_keys, total.astype(np.int64), types.astype(np.int64), d)


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[key] for each query key, 0 where absent."""
    if len(sorted_keys) == 0:
        return np.zeros(len(query), dtype=np.int64)
    i = np.searchsorted(sorted_keys, query)
    i = np.minimum(i, len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == query, values[i], 0)


class NGram:
    def __init__(self, order: int, levels: list[Level], vocab_size: int) -> None:
        self.order, self.levels, self.vocab_size = order, levels, vocab_size

    @classmethod
    def train(cls, stream: np.ndarray, order: int = 5) -> NGram:
        if not 1 <= order <= MAX_ORDER:
            raise RtgenError(f"n-gram order must be 1..{MAX_ORDER}")
        levels: list[Level] = []
        for k in range(1, order + 1):
            if k == order:
                keys, counts = np.unique(pack(stream, k), return_counts=True)
            else:  # continuation counts: distinct tokens seen before this k-gram
                longer = np.unique(pack(stream, k + 1))
                mask = np.uint64((1 << (BITS * k)) - 1)
                keys, counts = np.unique(longer & mask, return_counts=True)
            levels.append(Level.build(keys, counts.astype(np.int64)))
        return cls(order, levels, T.VOCAB_SIZE)

    def log2_probs(self, seq: np.ndarray) -> np.ndarray:
        """log2 P(seq[i] | seq[:i]) for i = 1..len-1 (the first token is given)."""
        seq = np.asarray(seq, dtype=np.uint64)
        targets = seq[1:]
        n = len(targets)
        uni = self.levels[0]
        c = _lookup(uni.keys, uni.counts, targets).astype(np.float64)
        tot = float(uni.counts.sum())
        p = (
            np.maximum(c - uni.discount, 0) / tot
            + uni.discount * len(uni.keys) / tot / self.vocab_size
        )
        pos = np.arange(1, n + 1)  # index of each target in seq
        for k in range(2, self.order + 1):
            lvl = self.levels[k - 1]
            ok = pos >= k - 1  # enough history for a (k-1)-token context
            ctx = np.zeros(n, dtype=np.uint64)
            for j in range(k - 1, 0, -1):
                idx = np.clip(pos - j, 0, None)
                ctx = (ctx << np.uint64(BITS)) | seq[idx]
            key = (ctx << np.uint64(BITS)) | targets
            total = _lookup(lvl.ctx_keys, lvl.ctx_total, ctx).astype(np.float64)
            types = _lookup(lvl.ctx_keys, lvl.ctx_types, ctx).astype(np.float64)
            cnt = _lookup(lvl.keys, lvl.counts, key).astype(np.float64)
            seen = ok & (total > 0)
            safe = np.where(seen, total, 1.0)
            higher = np.maximum(cnt - lvl.discount, 0) / safe + lvl.discount * types / safe * p
            p = np.where(seen, higher, p)
        return np.log2(p)

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for k, lvl in enumerate(self.levels, start=1):
            arrays[f"keys{k}"] = lvl.keys
            arrays[f"counts{k}"] = lvl.counts.astype(np.uint32)
        meta = {
            "order": self.order,
            "vocab_version": T.VOCAB_VERSION,
            "vocab_size": self.vocab_size,
            "kind": "kneser-ney",
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> NGram:
        try:
            z = np.load(path)
            meta = json.loads(bytes(z["meta"]).decode())
        except Exception:
            raise RtgenError(f"{path}: not an rtgen n-gram file") from None
        if meta.get("vocab_version") != T.VOCAB_VERSION:
            raise RtgenError(
                f"{path}: n-gram vocabulary {meta.get('vocab_version')!r} "
                f"does not match {T.VOCAB_VERSION!r}"
            )
        levels = [
            Level.build(z[f"keys{k}"], z[f"counts{k}"].astype(np.int64))
            for k in range(1, meta["order"] + 1)
        ]
        return cls(meta["order"], levels, meta["vocab_size"])


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
    model = NGram.train(train, args.order)
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
