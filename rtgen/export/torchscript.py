"""TorchScript export: a legacy, optional format.

PyTorch has deprecated TorchScript (visible warnings from 2.14); rtgen keeps it for users
whose stack is built on it, and says so whenever it is used. ONNX is the supported format.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from rtgen.export.onnx import step_module
from rtgen.graph_contract import TORCHSCRIPT_META_FILE

DEPRECATION_NOTE = (
    "note: TorchScript is deprecated in PyTorch; this format is kept for legacy stacks. "
    "Prefer ONNX (the default), which the daemon runs without torch."
)


def export_torchscript(model: torch.nn.Module, meta: dict, out: Path) -> None:
    """Trace the step graph and store ``meta`` as an extra file inside the archive."""
    wrapper, inputs, _, _ = step_module(model.eval(), batched=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, inputs, check_trace=False)
        torch.jit.save(traced, str(out), _extra_files={TORCHSCRIPT_META_FILE: json.dumps(meta)})
