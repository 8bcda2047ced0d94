"""Self-describing checkpoints: a dict of tensors and plain values, loaded weights-only.

A checkpoint carries everything needed to rebuild and judge the model with no other input:
format, model kind and config, the vocabulary table and version, the grid, a summary of the
training data, metrics and the code version. ``torch.load(weights_only=True)`` refuses any
pickled code, so a model file can never run code on load.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Any

import torch

from rtgen import __version__
from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.fields import build_checked
from rtgen.graph_contract import FORMAT
from rtgen.models.lstm import LSTMConfig, LSTMModel
from rtgen.models.transformer import TransformerConfig, TransformerModel

KINDS: dict[str, tuple[type, type]] = {
    "lstm": (LSTMConfig, LSTMModel),
    "transformer": (TransformerConfig, TransformerModel),
}


def make_config(kind: str, values: dict[str, Any]) -> Any:
    """A model config from plain values; unknown keys and wrong types are errors."""
    if kind not in KINDS:
        raise RtgenError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    cls = KINDS[kind][0]
    return build_checked(cls, values, kind)


def build_model(kind: str, config: dict[str, Any]) -> torch.nn.Module:
    cfg = make_config(kind, config)  # checks the kind first: an unknown one is a clear error
    return KINDS[kind][1](cfg)


def describe(model: torch.nn.Module, data: dict | None, metrics: dict | None) -> dict:
    """The metadata block shared by checkpoints and ONNX files."""
    return {
        "format": FORMAT,
        "kind": model.kind,
        "config": dataclasses.asdict(model.cfg),
        "vocab": T.describe(),
        "grid_steps_per_beat": T.GRID_STEPS_PER_BEAT,
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": data or {},
        "metrics": metrics or {},
        "code_version": __version__,
    }


def save_checkpoint(
    path: Path, model: torch.nn.Module, meta: dict, train_state: dict | None = None
) -> None:
    """Write atomically (temp file, then rename) so a kill never leaves half a checkpoint."""
    blob = dict(meta)
    blob["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if train_state is not None:
        blob["train_state"] = train_state
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def read_checkpoint(path: Path) -> dict:
    """Load and check a checkpoint; every failure is one line (RtgenError)."""
    path = Path(path)
    if not path.is_file():
        raise RtgenError(f"{path}: no such file")
    # save_checkpoint always writes torch's zip format. Anything else (a MIDI or ONNX file,
    # text) would reach the unpickler and be misreported as "pickled code" or a bare KeyError.
    # A zip's local header with no readable directory is a cut-off copy, not another format.
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head:
        raise RtgenError(f"{path}: cannot load checkpoint (empty file)")
    if not zipfile.is_zipfile(path):
        if head == b"PK\x03\x04":
            raise RtgenError(f"{path}: cannot load checkpoint (truncated)")
        raise RtgenError(f"{path}: not an rtgen checkpoint (not a torch zip file)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "weights_only" in text or "Unpickl" in type(exc).__name__:
            reason = "it holds pickled objects or code, which rtgen never loads"
        elif "zip" in text.lower() or "EOF" in text or "truncated" in text.lower():
            reason = "truncated or not a checkpoint"
        else:
            reason = text.splitlines()[0][:120] if text else type(exc).__name__
        raise RtgenError(f"{path}: cannot load checkpoint ({reason})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise RtgenError(f"{path}: not an rtgen checkpoint (no '{FORMAT}' format tag)")
    vocab = blob.get("vocab", {})
    if vocab.get("version") != T.VOCAB_VERSION:
        raise RtgenError(
            f"{path}: vocabulary {vocab.get('version')!r} does not match this rtgen's "
            f"{T.VOCAB_VERSION!r}"
        )
    return blob


def load_model(path: Path) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, metadata) from a checkpoint file."""
    blob = read_checkpoint(path)
    model = build_model(blob["kind"], blob["config"])
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise RtgenError(f"{path}: weights do not fit the model config ({str(exc)[:80]})") from None
    meta = {k: v for k, v in blob.items() if k not in ("state_dict", "train_state")}
    return model.eval(), meta
