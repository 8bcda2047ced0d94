"""Shards that sound like players: each training piece clean once and K times humanised.

    python -m training.augment --data data/corpus --out data/corpus-human --copies 3

Reads the prepared shards (``DATA/{split}.npy`` and ``_index.npy``, any source), decodes each
piece to notes and humanises the player role only (``rtgen.humanize``: velocity contours,
onset and release jitter at a tempo drawn per copy from 80-160 BPM); the model role stays
clean, so the model hears people and plays cleanly. Output has the layout of
``training.prepare`` (``train.npy``, ``train_index.npy``, ... ``manifest.json``), so
``python -m training.train --set train.data='"OUT"'`` trains on it unchanged:

    train   every piece clean, then its K humanised copies (seeds from the piece's tokens)
    valid   every piece once, humanised (validation measures the case we train for)
    test    every piece once, humanised

Why offline and why this way: docs/humanize.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.events import Role
from rtgen.humanize import HumanizeParams, PlayerRanges, draw_params, humanize, stable_seed
from training.pieces import SPLITS
from training.shards import read_manifest, write_split

# Each split: does every piece also appear clean, and how many humanised copies (None = K).
LAYOUT: dict[str, tuple[bool, int | None]] = {
    "train": (True, None),
    "valid": (False, 1),
    "test": (False, 1),
}


def humanize_tokens(tokens: np.ndarray, seed: int) -> tuple[list[int], HumanizeParams, bool]:
    """(new tokens, the player drawn, model-role notes unchanged?) for one piece's tokens."""
    notes = T.decode_tokens(tokens.tolist())
    rng = np.random.default_rng(seed)
    params = draw_params(rng)
    new = T.encode_notes(humanize(notes, params, rng, roles={Role.PLAYER}))

    def model(ns: list) -> list:
        return [n for n in ns if n.role == Role.MODEL]

    return new, params, model(T.decode_tokens(new)) == model(notes)


def piece_seed(tokens: np.ndarray, copy: int, base_seed: int) -> int:
    """Seed of one copy: from the piece's own tokens, so it does not depend on its position."""
    digest = hashlib.sha1(np.ascontiguousarray(tokens, dtype=np.uint16).tobytes()).hexdigest()
    return stable_seed("augment", base_seed, digest, copy)


def augment_split(src: Path, split: str, copies: int, base_seed: int) -> tuple[list, dict]:
    """Token rows (lists) of one split and its counts."""
    flat = np.load(src / f"{split}.npy", mmap_mode="r")
    index = np.load(src / f"{split}_index.npy")
    clean, n_copies = LAYOUT[split]
    n_copies = copies if n_copies is None else n_copies
    rows: list = []
    exact = bpm_sum = 0.0
    for off, length in tqdm(index, desc=split, unit="piece", file=sys.stderr, mininterval=5):
        tokens = np.asarray(flat[off : off + length])
        if clean:
            rows.append(tokens)
        for c in range(1, n_copies + 1):
            new, params, same = humanize_tokens(tokens, piece_seed(tokens, c, base_seed))
            rows.append(np.asarray(new, dtype=np.uint16))
            exact += same
            bpm_sum += params.bpm
    humanised = len(index) * n_copies
    stats = {
        "source_pieces": int(len(index)),
        "clean_copies": int(clean),
        "humanised_copies": n_copies,
        "pieces": len(rows),
        "tokens": int(sum(len(r) for r in rows)),
        "source_tokens": int(index[:, 1].sum()) if len(index) else 0,
        # Share of humanised copies whose model-role notes decode exactly as in the source.
        "model_role_exact": exact / humanised if humanised else None,
        "mean_bpm": bpm_sum / humanised if humanised else None,
    }
    return rows, stats


def build(src: Path, out: Path, copies: int, base_seed: int) -> dict:
    """Write OUT's shards and manifest; returns the manifest."""
    source = read_manifest(src)
    if copies < 1:
        raise RtgenError("--copies must be at least 1")
    if out.resolve() == src.resolve():
        raise RtgenError("--out must differ from --data")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    splits: dict[str, dict] = {}
    for split in SPLITS:
        rows, splits[split] = augment_split(src, split, copies, base_seed)
        write_split(out, split, rows)
    manifest = {
        "source": f"{source.get('source')} (humanised: training.augment)",
        "vocab": T.describe(),
        "pieces": sum(s["pieces"] for s in splits.values()),
        "tokens": sum(s["tokens"] for s in splits.values()),
        "splits": splits,
        "sources": source.get("sources", {}),
        "augment": {
            "from": str(src),
            "copies": copies,
            "seed": base_seed,
            "roles_humanised": ["player"],
            "layout": {k: {"clean": c, "humanised": n or copies} for k, (c, n) in LAYOUT.items()},
            "params": asdict(HumanizeParams()),
            "drawn_per_copy": asdict(PlayerRanges()),
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.augment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    ap.add_argument("--out", required=True, type=Path, help="output folder for the new shards")
    ap.add_argument("--copies", type=int, default=3, help="humanised copies of each train piece")
    ap.add_argument("--seed", type=int, default=0, help="base seed (each copy's seed adds to it)")
    args = ap.parse_args(argv)
    try:
        m = build(args.data, args.out, args.copies, args.seed)
    except RtgenError as exc:
        print(f"augment: error: {exc.format_message()}", file=sys.stderr)
        return 2
    for split, s in m["splits"].items():
        exact = s["model_role_exact"]
        print(
            f"{split}: {s['pieces']} pieces ({s['source_pieces']} sources), {s['tokens']} tokens "
            f"(source {s['source_tokens']}), model role exact "
            + ("-" if exact is None else f"{exact:.4f}"),
            file=sys.stderr,
        )
    print(f"{m['seconds']} s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
