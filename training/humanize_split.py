"""A split's MIDI files as players would play them: the humanised test set.

    python -m training.humanize_split --data data/corpus --split test --out data/corpus/test-human

Every note of every file in ``DATA/midi/SPLIT/`` is humanised (``rtgen.humanize``: velocity
contours, onset and release jitter) by a player drawn per file: tempo 80-160 BPM, onset
jitter sd 10-20 ms, phrase length 4/8/16 beats. The seed comes from a stable hash of the
file name, so a rebuild writes the same files. Each file is written at its drawn tempo
(times in beats as before, so the jitter is the drawn milliseconds when played), and
``OUT/manifest.json`` records the parameters, each file's draw and the measured figures.
``rtgen eval`` reads the folder like the clean split:

    rtgen eval --model rtgen/assets/default.onnx data/corpus/test-human --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtgen.errors import MidiFileError, RtgenError
from rtgen.events import Role
from rtgen.humanize import HumanizeParams, PlayerRanges, draw_params, humanize, stable_seed
from rtgen.io.midifile import read_midi, write_midi


def humanize_file(path: Path, out: Path, roles: set[Role]) -> dict:
    """Write one humanised file; returns its draw and what it changed."""
    piece = read_midi(path)
    seed = stable_seed("humanize_split", path.name)
    rng = np.random.default_rng(seed)
    params = draw_params(rng)
    notes = humanize(piece.notes, params, rng, roles=roles)
    write_midi(notes, out / path.name, bpm=params.bpm)
    ms = 60_000.0 / params.bpm
    moved = [(a, b) for a, b in zip(piece.notes, notes) if a.role in roles]
    return {
        "seed": seed,
        "bpm": round(params.bpm, 3),
        "onset_sd_ms": round(params.onset_sd_ms, 3),
        "phrase_beats": params.phrase_beats,
        "swing": params.swing,
        "notes": len(notes),
        # Measured: onset moves in ms at the file's tempo, and the velocities played.
        "onset_shift_ms": [round((b.start - a.start) * ms, 3) for a, b in moved],
        "velocity": [b.velocity for _, b in moved],
    }


def summary(files: dict[str, dict]) -> dict:
    """Figures over all files (what docs/humanize.md quotes)."""
    shift = np.concatenate([np.asarray(f.pop("onset_shift_ms"), float) for f in files.values()])
    vel = np.concatenate([np.asarray(f.pop("velocity"), float) for f in files.values()])
    bpm = np.array([f["bpm"] for f in files.values()])
    return {
        "files": len(files),
        "notes": int(len(vel)),
        "bpm_min_mean_max": [float(bpm.min()), float(bpm.mean()), float(bpm.max())],
        "onset_shift_ms_mean": float(shift.mean()),
        "onset_shift_ms_sd": float(shift.std()),
        "onset_shift_ms_abs_p95": float(np.percentile(np.abs(shift), 95)),
        "velocity_mean": float(vel.mean()),
        "velocity_sd": float(vel.std()),
        "velocity_p5_p95": [float(np.percentile(vel, 5)), float(np.percentile(vel, 95))],
    }


def build(data: Path, split: str, out: Path, roles: set[Role]) -> dict:
    src = data / "midi" / split
    files = sorted(p for p in src.glob("*.mid")) if src.is_dir() else []
    if not files:
        raise RtgenError(f"{src}: no MIDI files (build the split with python -m training.prepare)")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done: dict[str, dict] = {}
    skipped: list[str] = []
    for path in tqdm(files, desc="humanize", unit="file", file=sys.stderr, mininterval=5):
        try:
            done[path.name] = humanize_file(path, out, roles)
        except MidiFileError as exc:
            skipped.append(exc.format_message())
    manifest = {
        "source": str(src),
        "roles_humanised": sorted(r.name.lower() for r in roles),
        "params": asdict(HumanizeParams()),
        "drawn_per_file": asdict(PlayerRanges()),
        "measured": summary(done),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - t0, 1),
        "files": done,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.humanize_split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--out", required=True, type=Path, help="folder for the humanised files")
    ap.add_argument(
        "--roles",
        default="player,model",
        help="roles to humanise, comma-separated (default: every note)",
    )
    args = ap.parse_args(argv)
    try:
        roles = {Role[r.strip().upper()] for r in args.roles.split(",") if r.strip()}
    except KeyError:
        print(f"humanize_split: error: unknown role in {args.roles!r}", file=sys.stderr)
        return 2
    try:
        m = build(args.data, args.split, args.out, roles)
    except RtgenError as exc:
        print(f"humanize_split: error: {exc.format_message()}", file=sys.stderr)
        return 2
    s = m["measured"]
    print(
        f"{s['files']} files, {s['notes']} notes humanised, onset shift sd "
        f"{s['onset_shift_ms_sd']:.1f} ms, velocity {s['velocity_mean']:.1f} +- "
        f"{s['velocity_sd']:.1f}; {m['seconds']} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
