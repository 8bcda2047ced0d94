"""A small set of swung calls: pieces with straight off-beat 8ths, played swung by a drawn player.

    python scripts/swing_set.py data/corpus/midi/valid data/tune-swing --files 30
    python scripts/swing_set.py data/corpus/midi/test data/score-swing --files 40

Keeps pieces of the split whose onsets fall on off-beat 8ths (x.5) at least ``--min-eighths``
of the time and never on a triplet step, and humanises every note (rtgen/humanize.py) with
swing 2/3 (off-beat 8ths on the third triplet) and the tempo, jitter and dynamics drawn per
file as training.humanize_split draws them. The seed comes from the file name. Used to check
that a swung call gets a swung answer (issue 15: triplet share on swung calls >= 0.3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rtgen.humanize import HumanizeParams, draw_params, humanize, stable_seed
from rtgen.io.midifile import read_midi, write_midi

SWING = 2 / 3


def eighths_share(starts: np.ndarray) -> tuple[float, float]:
    """(share of onsets on an off-beat 8th, share on a triplet step) of onsets in beats."""
    steps = np.round(starts * 12).astype(int) % 12
    return float(np.mean(steps == 6)), float(np.mean(steps % 4 == 0) - np.mean(steps == 0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--min-eighths", type=float, default=0.25)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kept = 0
    # in an order drawn from the names, so every collection of the split has its chance
    for path in sorted(args.src.glob("*.mid"), key=lambda p: stable_seed("order", p.name)):
        piece = read_midi(path)
        if not piece.notes:
            continue
        eighths, triplets = eighths_share(np.array([n.start for n in piece.notes]))
        if eighths < args.min_eighths or triplets > 0:
            continue
        rng = np.random.default_rng(stable_seed("swing_set", path.name))
        params = draw_params(rng, HumanizeParams(swing=SWING))
        write_midi(humanize(piece.notes, params, rng), args.out / path.name, bpm=params.bpm)
        kept += 1
        if kept >= args.files:
            break
    print(f"{kept} swung files -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
