"""The interpolated Kneser-Ney n-gram over rtgen tokens: its file, its scores, and a session.

    ngram = NGram.load(path)             # training/baseline.py builds and saves it
    ngram.log2_probs(seq)                # (len - 1,) log2 P(seq[i] | seq[:i]), vectorised
    session = NGramSession(ngram)        # the model session's interface (engine/session.py)
    logits = session.step(token)         # (vocab,) natural-log probabilities of the next token

n-grams are packed exactly into uint64 keys (9 bits a token, so order <= 7). The highest
order uses raw counts, lower orders continuation counts (how many distinct tokens precede
them), each with its own absolute discount D = n1 / (n1 + 2 n2); the unigram level
interpolates with uniform. The package only reads and scores: counting lives in training.
"""

from __future__ import annotations

import json
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
        self._uni: np.ndarray | None = None  # (vocab,) unigram probabilities, on first use

    def _probs(self, history: np.ndarray, have: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """P(target | history) for n queries at once.

        history: (n, order - 1) uint64, the tokens before each target, the latest last;
        have: (n,) how many of them are real (the rest are padding); targets: (n,) uint64."""
        n = len(targets)
        uni = self.levels[0]
        c = _lookup(uni.keys, uni.counts, targets).astype(np.float64)
        tot = float(uni.counts.sum())
        p = (
            np.maximum(c - uni.discount, 0) / tot
            + uni.discount * len(uni.keys) / tot / self.vocab_size
        )
        width = history.shape[1]
        for k in range(2, self.order + 1):
            lvl = self.levels[k - 1]
            ctx = np.zeros(n, dtype=np.uint64)
            for j in range(k - 1, 0, -1):  # the (k-1)-token context, oldest first
                ctx = (ctx << np.uint64(BITS)) | history[:, width - j]
            key = (ctx << np.uint64(BITS)) | targets
            total = _lookup(lvl.ctx_keys, lvl.ctx_total, ctx).astype(np.float64)
            types = _lookup(lvl.ctx_keys, lvl.ctx_types, ctx).astype(np.float64)
            cnt = _lookup(lvl.keys, lvl.counts, key).astype(np.float64)
            seen = (have >= k - 1) & (total > 0)
            safe = np.where(seen, total, 1.0)
            higher = np.maximum(cnt - lvl.discount, 0) / safe + lvl.discount * types / safe * p
            p = np.where(seen, higher, p)
        return p

    def log2_probs(self, seq: np.ndarray) -> np.ndarray:
        """log2 P(seq[i] | seq[:i]) for i = 1..len-1 (the first token is given)."""
        seq = np.asarray(seq, dtype=np.uint64)
        pos = np.arange(1, len(seq))  # index of each target in seq
        width = max(self.order - 1, 1)
        cols = pos[:, None] - np.arange(width, 0, -1)[None, :]  # (n, width), latest last
        history = seq[np.clip(cols, 0, None)]
        return np.log2(self._probs(history, pos, seq[1:]))

    def next_log2_probs(self, history: list[int]) -> np.ndarray:
        """(vocab,) log2 P(token | history) for every token: what follows ``history``.

        The same interpolation as ``log2_probs``, for one context: the followers of a
        context are one run of the sorted keys, found by two binary searches, so a step
        costs a few searches per order, not a lookup per token (0.25 -> 0.06 ms, measured)."""
        p = self._unigram()
        mask = np.uint64((1 << BITS) - 1)
        for k in range(2, self.order + 1):
            if len(history) < k - 1:
                break
            ctx = 0
            for tok in history[len(history) - (k - 1) :]:
                ctx = (ctx << BITS) | int(tok)
            lvl = self.levels[k - 1]
            i = int(np.searchsorted(lvl.ctx_keys, np.uint64(ctx)))
            if i == len(lvl.ctx_keys) or int(lvl.ctx_keys[i]) != ctx:
                continue  # an unseen context: this order leaves p as it is
            total, types = float(lvl.ctx_total[i]), float(lvl.ctx_types[i])
            lo, hi = (
                np.searchsorted(lvl.keys, np.uint64(ctx << BITS)),
                np.searchsorted(lvl.keys, np.uint64((ctx + 1) << BITS)),
            )
            cnt = np.zeros(self.vocab_size)
            cnt[(lvl.keys[lo:hi] & mask).astype(np.int64)] = lvl.counts[lo:hi]
            p = np.maximum(cnt - lvl.discount, 0) / total + lvl.discount * types / total * p
        return np.log2(p)

    def _unigram(self) -> np.ndarray:
        """(vocab,) the lowest level's probabilities, interpolated with uniform (cached)."""
        if self._uni is None:
            uni = self.levels[0]
            c = np.zeros(self.vocab_size)
            c[uni.keys.astype(np.int64)] = uni.counts
            tot = float(uni.counts.sum())
            d = uni.discount
            self._uni = np.maximum(c - d, 0) / tot + d * len(uni.keys) / tot / self.vocab_size
        return self._uni

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


class NGramSession:
    """An n-gram behind the model session's interface (reset / step / snapshot / restore),
    so the engine's planner and sampler play it exactly as they play a network.

    ``step(token)`` returns natural-log probabilities of the next token given the last
    order - 1 tokens: as logits, softmax of them at temperature 1 is the n-gram itself."""

    kind = "ngram"

    def __init__(self, ngram: NGram, path: Path | None = None) -> None:
        if ngram.vocab_size != T.VOCAB_SIZE:
            raise RtgenError(f"{path}: n-gram vocab_size {ngram.vocab_size} != {T.VOCAB_SIZE}")
        self.ngram, self.path = ngram, path
        self.meta = {"kind": "ngram", "order": ngram.order}
        self.reset()

    @classmethod
    def open(cls, path: Path) -> NGramSession:
        return cls(NGram.load(path), Path(path))

    def reset(self) -> None:
        self.history: list[int] = []  # at most order - 1 tokens: all the state there is

    def step(self, token: int) -> np.ndarray:
        self.history = (self.history + [int(token)])[-max(self.ngram.order - 1, 1) :]
        return self.ngram.next_log2_probs(self.history) * np.log(2.0)

    def snapshot(self) -> tuple:
        return tuple(self.history)

    def restore(self, snap: tuple) -> None:
        self.history = list(snap)
