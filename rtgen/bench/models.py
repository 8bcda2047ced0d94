"""The model files one bench run compares: ONNX fp32 and int8, and the checkpoint for torch.

    files = prepare_models(Path("default.onnx"), workdir)
    files.fp32, files.int8, files.ckpt      # None where missing; files.skipped says why

An ``.onnx`` model brings its siblings: ``NAME.int8.onnx`` (``rtgen export --quantize int8``)
and ``NAME.ckpt`` (torch eager and TorchScript are stepped from it). A ``.ckpt`` is exported
to ONNX fp32 and int8 in ``workdir`` first (needs torch). torch is imported lazily here, as in
rtgen.sessions: the bench runs, with fewer backends, where torch is not installed.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rtgen.errors import RtgenError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TRANSFORMER_TOML = Path(__file__).resolve().parents[2] / "configs" / "transformer.toml"


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def quiet_export() -> Iterator[None]:
    """Hide the ONNX exporter's log chatter (e.g. 'torchvision is not installed')."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class ModelFiles:
    given: Path  # what --model named
    kind: str
    meta: dict
    fp32: Path | None = None
    int8: Path | None = None
    ckpt: Path | None = None
    exported: bool = False  # fp32/int8 were exported from a checkpoint for this run
    skipped: dict[str, str] = field(default_factory=dict)  # backend -> why it is missing

    def describe(self) -> dict:
        return {
            "path": str(self.given),
            "kind": self.kind,
            "parameters": self.meta.get("parameters"),
            "config": self.meta.get("config"),
            "fp32": str(self.fp32) if self.fp32 else None,
            "int8": str(self.int8) if self.int8 else None,
            "checkpoint": str(self.ckpt) if self.ckpt else None,
            "exported_for_bench": self.exported,
        }


def _base_name(path: Path) -> str:
    """``default`` for default.onnx, default.int8.onnx and default.ckpt."""
    name = path.name
    for suffix in (".int8.onnx", ".onnx", ".ckpt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def prepare_models(model: Path, workdir: Path) -> ModelFiles:
    """Find (or export, for a checkpoint) the files of each backend; see the module doc."""
    model = Path(model)
    if not model.is_file():
        raise RtgenError(f"{model}: no such model file")
    if model.suffix == ".ckpt":
        return _from_checkpoint(model, workdir)
    if model.suffix != ".onnx":
        raise RtgenError(f"{model}: rtgen bench takes an .onnx model or a .ckpt checkpoint")
    from rtgen.graph_contract import read_onnx_meta

    base = _base_name(model)
    fp32, int8 = model.with_name(base + ".onnx"), model.with_name(base + ".int8.onnx")
    files = ModelFiles(model, "", {})
    files.fp32 = fp32 if fp32.is_file() else None
    files.int8 = int8 if int8.is_file() else None
    files.meta = read_onnx_meta(files.fp32 or files.int8)
    files.kind = files.meta["kind"]
    if files.fp32 is None:
        files.skipped["ort_fp32"] = f"no {fp32.name} beside {model.name}"
    if files.int8 is None:
        files.skipped["ort_int8"] = (
            f"no {int8.name} beside {model.name} (make one: rtgen export --quantize int8)"
        )
    ckpt = model.with_name(base + ".ckpt")
    if ckpt.is_file():
        files.ckpt = ckpt
    else:
        reason = f"no {ckpt.name} beside {model.name}: torch backends step the checkpoint"
        _skip_torch(files, reason)
    return files


def _skip_torch(files: ModelFiles, reason: str) -> None:
    for name in ("torch_eager", "torch_eager_nomkldnn", "torchscript"):
        files.skipped[name] = reason


def _from_checkpoint(ckpt: Path, workdir: Path) -> ModelFiles:
    if not torch_available():
        raise RtgenError(
            f"{ckpt}: benchmarking a checkpoint needs torch to export it; "
            "pass the exported .onnx instead, or pip install 'rtgen[train]'"
        )
    from rtgen.models.checkpoint import load_model

    model, meta = load_model(ckpt)
    files = ModelFiles(ckpt, meta["kind"], meta, ckpt=ckpt, exported=True)
    files.fp32, files.int8, reason = export_pair(model, meta, workdir / "model.onnx")
    if reason:
        files.skipped["ort_int8"] = reason
    return files


def export_pair(model, meta: dict, out: Path) -> tuple[Path, Path | None, str | None]:
    """Export ``model`` to ``out`` (fp32) and ``out``'s int8 sibling; (fp32, int8, why not)."""
    from rtgen.export.onnx import export_onnx
    from rtgen.export.quantize import quantize_int8

    meta = {**meta, "export": {"format": "onnx", "source": "rtgen bench"}}
    with quiet_export():
        export_onnx(model, meta, out)
    int8 = out.with_name(_base_name(out) + ".int8.onnx")
    try:
        quantize_int8(out, int8)
    except RtgenError as exc:
        return out, None, f"int8 quantization failed: {exc.format_message()}"
    return out, int8, None


def checkpoint_model(files: ModelFiles):
    """The checkpoint's model for the torch backends; None (reason in ``skipped``) if absent."""
    if files.ckpt is None:
        return None
    if not torch_available():
        _skip_torch(files, "torch is not installed")
        return None
    from rtgen.models.checkpoint import load_model

    model, meta = load_model(files.ckpt)
    if model.kind != files.kind or meta.get("config") != files.meta.get("config"):
        _skip_torch(files, f"{files.ckpt.name} is not the same model as the ONNX file")
        return None
    return model, meta


def random_transformer(workdir: Path) -> tuple[Path, str]:
    """An ONNX step graph of a Transformer with random weights: configs/transformer.toml's
    [model] section (TransformerConfig's defaults where that file is not installed)."""
    import torch

    from rtgen.models.checkpoint import build_model, describe

    if TRANSFORMER_TOML.is_file():
        values = dict(tomllib.loads(TRANSFORMER_TOML.read_text())["model"])
        values.pop("kind", None)
        source = "random weights, configs/transformer.toml [model]"
    else:
        values, source = {}, "random weights, TransformerConfig defaults"
    torch.manual_seed(0)
    model = build_model("transformer", values).eval()
    out = workdir / "transformer.onnx"
    with quiet_export():
        from rtgen.export.onnx import export_onnx

        export_onnx(model, describe(model, {"source": "random"}, {}), out)
    return out, source
