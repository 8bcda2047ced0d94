"""Parity of an exported model against its checkpoint, run after every export.

512 teacher-forced steps on held-out tokens (the bundled demo pieces, which come from the
corpus's test split): fp32 must match on every logit within 1e-4 plus 1e-5 of the logit's
size (numpy's allclose rule: float32 rounding grows with the values, and an untrained
Transformer's logits reach +-260, where 1e-4 is a few ulps); int8 is judged by top-1
agreement and mean KL divergence against fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgen.assets import ASSETS
from rtgen.io.midifile import read_midi
from rtgen.tokens import encode_notes

PARITY_STEPS = 512
FP32_TOLERANCE = 1e-4  # absolute part of the fp32 limit
FP32_RTOL = 1e-5  # relative part: per logit, 1e-4 + 1e-5 * |logit|
INT8_MIN_AGREEMENT = 0.95


def heldout_tokens(n: int = PARITY_STEPS) -> np.ndarray:
    """The first ``n`` tokens of the bundled demo pieces, back to back."""
    out: list[int] = []
    for f in sorted((ASSETS / "demo").glob("*.mid")):
        out += encode_notes(read_midi(f).notes)
        if len(out) >= n:
            break
    return np.asarray(out[:n], dtype=np.int64)


def run_logits(session, tokens: np.ndarray) -> np.ndarray:  # noqa: ANN001 - any session
    """(steps, vocab) logits of a session stepped through ``tokens`` from a reset."""
    session.reset()
    return np.stack([session.step(int(t)) for t in tokens])


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@dataclass
class Parity:
    max_abs_diff: float
    max_excess: float  # max over logits of |diff| - FP32_RTOL * |reference|: fp32 passes <= 1e-4
    top1_agreement: float
    mean_kl: float  # KL(reference || candidate), nats per step
    steps: int

    def as_dict(self) -> dict:
        return {
            "max_abs_diff": self.max_abs_diff,
            "max_excess": self.max_excess,
            "top1_agreement": self.top1_agreement,
            "mean_kl": self.mean_kl,
            "steps": self.steps,
        }


def compare(reference: np.ndarray, candidate: np.ndarray) -> Parity:
    p, q = _softmax(reference.astype(np.float64)), _softmax(candidate.astype(np.float64))
    kl = float(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(q + 1e-12)), axis=-1)))
    agree = float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
    diff = np.abs(reference.astype(np.float64) - candidate)
    excess = float((diff - FP32_RTOL * np.abs(reference)).max())
    return Parity(float(diff.max()), excess, agree, kl, len(reference))


def fp32_matches(p: Parity) -> bool:
    """Every logit within 1e-4 + 1e-5 * |logit| of the checkpoint's."""
    return p.max_excess <= FP32_TOLERANCE


def parity(reference_session, candidate_path: Path) -> Parity:  # noqa: ANN001
    from rtgen.engine.session import open_session

    tokens = heldout_tokens()
    ref = run_logits(reference_session, tokens)
    cand = run_logits(open_session(candidate_path, device="cpu"), tokens)
    return compare(ref, cand)
