"""The token-shard format every prepared folder shares (training.prepare writes it,
training.augment rewrites it, training.data reads it); no torch, so preparing data needs none.

    OUT/{split}.npy          uint16 tokens, pieces back to back (BOS ... EOS)
    OUT/{split}_index.npy    int64 (pieces, 2): offset, length
    OUT/manifest.json        counts, sources, vocabulary
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.errors import RtgenError


def read_manifest(data_dir: str | Path) -> dict:
    """A prepared folder's manifest, refused unless its shards use this rtgen's vocabulary."""
    d = Path(data_dir)
    manifest = d / "manifest.json"
    if not manifest.is_file():
        raise RtgenError(f"{d}: no manifest.json; build it with python -m training.prepare")
    doc = json.loads(manifest.read_text())
    version = doc["vocab"]["version"]
    if version != T.VOCAB_VERSION:
        raise RtgenError(f"{d}: shards use vocabulary {version!r}, this rtgen {T.VOCAB_VERSION!r}")
    return doc


def write_split(out: Path, split: str, rows: list) -> np.ndarray:
    """One split's shards from its pieces' token rows: OUT/{split}.npy (uint16, back to back)
    and OUT/{split}_index.npy (int64 (pieces, 2): offset, length). Returns the lengths."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(rows) else lengths
    flat = np.concatenate(rows).astype(np.uint16) if rows else np.zeros(0, np.uint16)
    np.save(out / f"{split}.npy", flat)
    np.save(out / f"{split}_index.npy", np.stack([offsets, lengths], axis=1))
    return lengths
