"""Build token shards from music21's bundled corpus or from any folder of MIDI files.

    python -m training.prepare --source corpus --out data/corpus
    python -m training.prepare --source ~/midi --out data/mine

Work is cached per piece in ``OUT/cache/pieces.jsonl`` as it finishes, so an interrupted run
resumes where it stopped. Pieces are split train/valid/test by a stable hash of their key and
title (never by window). Output:

    OUT/{train,valid,test}.npy        uint16 tokens, pieces back to back (BOS ... EOS)
    OUT/{train,valid,test}_index.npy  int64 (pieces, 2): offset, length
    OUT/manifest.json                 counts, sources, skipped files, vocabulary, speed
    OUT/midi/{split}/...              (corpus only) each piece as a MIDI file, player/model
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtgen import tokens as T
from rtgen.errors import RtgenError
from training.pieces import SPLITS, WorkItem, list_work, process_item
from training.shards import write_split

CACHE_NAME = "pieces.jsonl"


def _read_cache(path: Path) -> dict[str, dict]:
    """Finished pieces by key; a torn last line (killed mid-write) is ignored."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[rec["key"]] = rec
    return done


def _run_workers(todo: list[WorkItem], out: Path, workers: int, cache: Path) -> None:
    if not todo:
        return
    with open(cache, "a", encoding="utf-8") as fh:
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with ctx.Pool(workers) as pool:
            jobs = pool.imap_unordered(process_item, [(w, str(out)) for w in todo], chunksize=4)
            for rec in tqdm(jobs, total=len(todo), desc="pieces", unit="piece", smoothing=0.05):
                fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
                fh.flush()


def _write_shards(out: Path, records: list[dict]) -> dict:
    summary: dict[str, dict] = {}
    for split in SPLITS:
        recs = sorted((r for r in records if r.get("split") == split), key=lambda r: r["key"])
        lengths = write_split(out, split, [np.asarray(r["tokens"], np.uint16) for r in recs])
        summary[split] = {
            "pieces": len(recs),
            "tokens": int(lengths.sum()),
            "notes": int(sum(r["notes"] for r in recs)),
        }
    return summary


def build_manifest(
    out: Path, records: list[dict], source: str, seconds: float, processed: int
) -> dict:
    ok = [r for r in records if "error" not in r]
    skipped = [r for r in records if "error" in r]
    splits = _write_shards(out, ok)
    by_source: dict[str, dict] = {}
    for r in ok:
        s = by_source.setdefault(r["source"], {"pieces": 0, "tokens": 0, "notes": 0})
        s["pieces"] += 1
        s["tokens"] += len(r["tokens"])
        s["notes"] += r["notes"]
    notes = sum(r["notes"] for r in ok)
    processed_tokens = sum(len(r["tokens"]) for r in ok if r.get("fresh"))
    total_tokens = sum(len(r["tokens"]) for r in ok)
    manifest = {
        "source": source,
        "vocab": T.describe(),
        "pieces": len(ok),
        "skipped": len(skipped),
        "skipped_reasons": [r["error"] for r in skipped[:200]],
        "notes": notes,
        "tokens": total_tokens,
        "roundtrip_note_recall": sum(r["recalled"] for r in ok) / max(notes, 1),
        "splits": splits,
        "sources": by_source,
        # Speed of this run's work only (a resumed run converts just what was missing).
        "seconds": round(seconds, 1),
        "files_per_s": round(processed / seconds, 1) if processed else None,
        "tokens_per_s": round(processed_tokens / seconds, 1) if processed else None,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.prepare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--source",
        required=True,
        help="'corpus' (music21's bundled corpus) or a folder of MIDI files",
    )
    ap.add_argument("--out", required=True, type=Path, help="output folder for shards")
    ap.add_argument(
        "--workers",
        type=int,
        default=max(1, mp.cpu_count()),
        help="parallel worker processes (default: all cores)",
    )
    ap.add_argument(
        "--collections", default="", help="corpus only: comma-separated collections (default: all)"
    )
    ap.add_argument("--limit", type=int, default=0, help="take only the first N pieces")
    ap.add_argument(
        "--no-midi", action="store_true", help="corpus only: do not write each piece as a MIDI file"
    )
    args = ap.parse_args(argv)
    try:
        items = list_work(args.source, args.collections, write_midi=not args.no_midi)
    except RtgenError as exc:
        print(f"prepare: error: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        items = items[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "cache" / CACHE_NAME
    cache.parent.mkdir(exist_ok=True)
    done = _read_cache(cache)
    todo = [w for w in items if w.key not in done]
    print(
        f"{len(items)} pieces, {len(items) - len(todo)} cached, {len(todo)} to do "
        f"with {args.workers} workers",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    _run_workers(todo, args.out, args.workers, cache)
    seconds = time.perf_counter() - t0
    done = _read_cache(cache)
    keys = {w.key for w in items}
    records = [r for k, r in done.items() if k in keys]
    fresh = {w.key for w in todo}
    for r in records:
        r["fresh"] = r["key"] in fresh
    m = build_manifest(args.out, records, args.source, seconds, len(todo))
    print(
        f"{m['pieces']} pieces, {m['skipped']} skipped, {m['tokens']} tokens, "
        f"note recall {m['roundtrip_note_recall']:.4f}; {m['files_per_s']} files/s, "
        f"{m['tokens_per_s']} tokens/s -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
