"""Training recipes: defaults here, overridden by a TOML file, then by ``--set key=value``.

    [model]            kind = "lstm" | "transformer", then that model's config fields
    [train]            the TrainConfig fields below
Unknown keys and wrong types are errors (one line), never silently ignored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rtgen.errors import RtgenError
from rtgen.fields import build_checked


@dataclass
class TrainConfig:
    data: str = "data/corpus"  # folder written by training.prepare
    out: str = "runs/default"  # checkpoints, metrics.csv
    seed: int = 1234
    batch: int = 32  # windows per step (per process under torchrun)
    seq_len: int = 256  # tokens per window
    lr: float = 2e-3  # peak learning rate, after warm-up
    min_lr_ratio: float = 0.05  # cosine decays to lr * this
    warmup_steps: int = 200
    max_steps: int = 20000
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    transpose: int = 6  # random transposition in -transpose..+transpose semitones
    eval_every: int = 250  # steps between validation runs
    eval_tokens: int = 100_000  # validation tokens per run
    patience: int = 10  # validation runs without improvement before stopping early
    max_minutes: float = 0.0  # stop (and save) after this long; 0 = no limit
    threads: int = 0  # torch CPU threads; 0 = all cores
    log_every: int = 10
    init: str = ""  # start from this checkpoint's weights (fine-tuning); "" = from scratch


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def load_recipe(path: str | None, sets: list[str]) -> tuple[str, dict, TrainConfig]:
    """(model kind, model config values, TrainConfig) from a TOML file and overrides."""
    doc: dict[str, dict] = {"model": {}, "train": {}}
    if path:
        p = Path(path)
        if not p.is_file():
            raise RtgenError(f"{path}: no such config file")
        try:
            loaded = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise RtgenError(f"{path}: not valid TOML ({exc})") from None
        for section, values in loaded.items():
            if section not in doc or not isinstance(values, dict):
                raise RtgenError(f"{path}: unknown section [{section}]; known: [model], [train]")
            doc[section].update(values)
    for item in sets:
        key, eq, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot or section not in doc:
            raise RtgenError(f"--set {item!r}: expected model.NAME=VALUE or train.NAME=VALUE")
        doc[section][name] = _parse_value(value.strip())
    model = dict(doc["model"])
    kind = model.pop("kind", "lstm")
    return kind, model, make_train_config(doc["train"])


def make_train_config(values: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from plain values; unknown keys and wrong types are one-line errors."""
    return build_checked(TrainConfig, values, "train")
