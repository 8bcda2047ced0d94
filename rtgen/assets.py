"""Where the bundled default model lives (inside the package: nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

from rtgen.errors import RtgenError

ASSETS = Path(__file__).parent / "assets"
# Preference order: the daemon's ONNX graph, then the checkpoint (needs torch).
DEFAULT_MODELS = ("default.onnx", "default.ckpt")


def default_model() -> Path:
    for name in DEFAULT_MODELS:
        if (ASSETS / name).is_file():
            return ASSETS / name
    raise RtgenError(f"the bundled model is missing from {ASSETS}; reinstall rtgen")
