"""Parity of an exported model against its checkpoint, run after every export.

512 teacher-forced steps on held-out tokens (the bundled demo pieces, which come from the
corpus's test split): fp32 must match on every logit within 1e-4 plus 1e-5 of the logit's
size (numpy's allclose rule: float32 rounding grows with the values, and an untrained
Transformer's logits reach +-260, where 1e-4 is a few ulps).

int8 is judged on every x86 kernel path, not just this CPU's: ONNX Runtime here, and the
int8 math evaluated in numpy both ways (rtgen/export/int8math.py: exact int32 sums, and
AVX2's saturating pairs). The rule is the *logit error relative to the logit spread*
(per step: max |int8 - fp32| over the vocabulary / std of the fp32 logits; its median over
the steps) plus mean KL. Top-1 agreement is reported, never judged: on an untrained model
the logits are nearly uniform (median top-1 margin 0.009 here) and any noise flips them.
Measured (512 steps; median relative error): good int8 files 0.008-0.04 on both paths;
the test LSTM quantized with full-range int8 weights on the AVX2 path 0.335 (69% top-1
agreement, the failure a fresh clone met on a CPU without VNNI).
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
INT8_MAX_REL_ERROR = 0.1  # median over steps of max |logit error| / logit std
INT8_MAX_KL = 0.01  # nats per step; the bundled model's int8: ~6e-4


def heldout_tokens(n: int = PARITY_STEPS) -> np.ndarray:
    """The first ``n`` tokens of the bundled demo pieces, back to back."""
    out: list[int] = []
    for f in sorted((ASSETS / "demo").glob("*.mid")):
        out += encode_notes(read_midi(f).notes)
        if len(out) >= n:
            break
    return np.asarray(out[:n], dtype=np.int64)


def run_logits(session, tokens: np.ndarray) -> np.ndarray:
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
    rel_error: float = 0.0  # median over steps of max |diff| / std of the reference logits

    def as_dict(self) -> dict:
        return {
            "max_abs_diff": self.max_abs_diff,
            "max_excess": self.max_excess,
            "top1_agreement": self.top1_agreement,
            "mean_kl": self.mean_kl,
            "steps": self.steps,
            "rel_error": self.rel_error,
        }


def compare(reference: np.ndarray, candidate: np.ndarray) -> Parity:
    p, q = _softmax(reference.astype(np.float64)), _softmax(candidate.astype(np.float64))
    kl = float(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(q + 1e-12)), axis=-1)))
    agree = float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
    diff = np.abs(reference.astype(np.float64) - candidate)
    excess = float((diff - FP32_RTOL * np.abs(reference)).max())
    spread = np.maximum(reference.astype(np.float64).std(axis=-1), 1e-12)
    rel = float(np.median(diff.max(axis=-1) / spread))
    return Parity(float(diff.max()), excess, agree, kl, len(reference), rel)


def fp32_matches(p: Parity) -> bool:
    """Every logit within 1e-4 + 1e-5 * |logit| of the checkpoint's."""
    return p.max_excess <= FP32_TOLERANCE


def int8_acceptable(p: Parity) -> bool:
    """The one int8 rule, for rtgen export and the tests alike."""
    return p.rel_error <= INT8_MAX_REL_ERROR and p.mean_kl <= INT8_MAX_KL


def reference_logits(session) -> np.ndarray:
    """(PARITY_STEPS, vocab) logits of the reference (the checkpoint) over the held-out
    tokens: computed once per export, every candidate is compared with them."""
    return run_logits(session, heldout_tokens())


def parity(reference: np.ndarray, candidate_path: Path) -> Parity:
    """A written model file against the reference's logits (``reference_logits``)."""
    from rtgen.sessions import open_session

    tokens = heldout_tokens(len(reference))
    return compare(reference, run_logits(open_session(candidate_path, device="cpu"), tokens))


def int8_paths(reference: np.ndarray, int8_path: Path) -> dict[str, Parity]:
    """The int8 file against the reference's logits on this CPU's runtime ('runtime') and on
    both kernel paths evaluated in numpy ('exact', 'avx2')."""
    from rtgen.export.int8math import KERNELS, Int8MathSession
    from rtgen.sessions import open_session

    tokens = heldout_tokens(len(reference))
    runtime = run_logits(open_session(int8_path, device="cpu"), tokens)
    out = {"runtime": compare(reference, runtime)}
    for kernel in KERNELS:
        out[kernel] = compare(reference, run_logits(Int8MathSession(int8_path, kernel), tokens))
    return out
