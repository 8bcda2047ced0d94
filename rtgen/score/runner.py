"""Score calls: each system answers each call (the seeded ones once per seed), every answer
is measured (metrics.py), and each metric is averaged per system over its answers.

Systems: rtgen (the model through the engine), truth, copy, random_in_key, ngram (the n-gram
through the same engine). Density ratios are medians, the rest means; diversity is the mean
over calls of each call's mean over seed pairs; NLL is pooled over all truth tokens.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtgen.errors import MidiFileError
from rtgen.ngram import NGram, NGramSession
from rtgen.score import metrics as M
from rtgen.score.answers import engine_answer
from rtgen.score.baselines import copy_answer, random_in_key
from rtgen.score.calls import Call, cut_calls, read_parts
from rtgen.score.nll import ngram_bits, session_bits, truth_tokens

SYSTEMS = ("rtgen", "truth", "copy", "random_in_key", "ngram")
SEEDED = ("rtgen", "random_in_key", "ngram")
MEDIANS = ("density_vs_call", "density_vs_truth")


@dataclass
class CallSet:
    """The calls cut from some files, and what was left out on the way."""

    calls: list[Call] = field(default_factory=list)
    files: int = 0
    parts: int = 0
    skipped_files: list[dict] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)


def collect_calls(files: list[Path]) -> CallSet:
    out = CallSet()
    for f in files:
        try:
            parts = read_parts(f)
        except MidiFileError as exc:
            out.skipped_files.append({"path": str(f), "reason": exc.format_message()})
            continue
        out.files += 1
        for name, notes in parts:
            calls, left_out = cut_calls(str(f), name, notes)
            out.calls += calls
            out.left_out += left_out
            out.parts += 1
    return out


@dataclass
class Tally:
    """Per system: each answer's metrics, each call's diversity; NLL totals."""

    answers: dict[str, list[dict]] = field(default_factory=lambda: {s: [] for s in SYSTEMS})
    diversity: dict[str, list[float | None]] = field(
        default_factory=lambda: {s: [] for s in SEEDED}
    )
    bits: dict[str, float] = field(default_factory=lambda: {"rtgen": 0.0, "ngram": 0.0})
    tokens: int = 0


class CallScorer:
    """Answers one call with every system and adds what it measures to a Tally."""

    def __init__(self, session, ngram: NGram | None, seeds: int) -> None:
        self.session, self.ngram, self.seeds = session, ngram, seeds
        self.ngram_session = NGramSession(ngram) if ngram is not None else None

    def answers(self, index: int, c: Call) -> dict[str, list[list]]:
        """system -> its answers to call ``c`` (one per seed for the seeded systems)."""
        seeds = range(self.seeds)
        out = {
            "truth": [list(c.truth)],
            "copy": [copy_answer(c.call)],
            "random_in_key": [random_in_key(c.call, s, index) for s in seeds],
            "rtgen": [engine_answer(self.session, c.call, s) for s in seeds],
        }
        if self.ngram_session is not None:
            out["ngram"] = [engine_answer(self.ngram_session, c.call, s) for s in seeds]
        return out

    def add(self, tally: Tally, index: int, c: Call) -> None:
        for system, answers in self.answers(index, c).items():
            tally.answers[system] += [M.answer_metrics(a, c.call, c.truth) for a in answers]
            if system in SEEDED:
                tally.diversity[system].append(M.diversity(answers))
        seq, first = truth_tokens(c.call, c.truth)
        tally.tokens += len(seq) - first
        tally.bits["rtgen"] += session_bits(self.session, seq, first)
        if self.ngram is not None:
            tally.bits["ngram"] += ngram_bits(self.ngram, seq, first)


def mean_of(values: list[float | None], median: bool = False) -> float | None:
    """The mean (or median) of the values that are not None; None when none is."""
    kept = [v for v in values if v is not None]
    if not kept:
        return None
    return float(np.median(kept) if median else np.mean(kept))


def summarize(tally: Tally, has_ngram: bool) -> dict[str, dict[str, float | None] | None]:
    """system -> metric -> mean over its answers (median for density ratios)."""
    out: dict[str, dict[str, float | None] | None] = {}
    for system in SYSTEMS:
        rows = tally.answers[system]
        if not rows:
            out[system] = None  # no n-gram next to the model
            continue
        figures = {k: mean_of([r[k] for r in rows], k in MEDIANS) for k in rows[0]}
        figures["diversity"] = mean_of(tally.diversity.get(system, []))
        nll = None
        if system == "rtgen" or (system == "ngram" and has_ngram):
            nll = tally.bits[system] / tally.tokens if tally.tokens else None
        figures["nll_bits_per_token"] = nll
        figures["answers"] = len(rows)
        out[system] = figures
    return out


def score(
    callset: CallSet,
    session,
    ngram: NGram | None,
    seeds: int,
    progress: bool = False,
) -> dict:
    """Every system's figures on ``callset``'s calls (see the module docstring)."""
    t0 = time.perf_counter()
    tally = Tally()
    scorer = CallScorer(session, ngram, seeds)
    calls = callset.calls
    for i, c in enumerate(tqdm(calls, desc="score", unit="call", disable=not progress)):
        scorer.add(tally, i, c)
    return {
        "files": callset.files,
        "skipped": len(callset.skipped_files),
        "skipped_files": callset.skipped_files,
        "parts": callset.parts,
        "calls": len(calls),
        "left_out": dict(callset.left_out),
        "seeds": seeds,
        "nll_tokens": tally.tokens,
        "systems": summarize(tally, ngram is not None),
        "seconds": round(time.perf_counter() - t0, 2),
    }
