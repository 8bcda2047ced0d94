"""`rtgen export`: checkpoint -> ONNX (or TorchScript) step graph, with a parity check."""

from __future__ import annotations

import json
import shutil
from enum import Enum
from pathlib import Path

import numpy as np
import typer

from rtgen.errors import RtgenError
from rtgen.paths import check_writable


class Format(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"


class Quantize(str, Enum):
    int8 = "int8"


def _update_onnx_meta(path: Path, extra: dict) -> None:
    import onnx

    from rtgen.export.onnx import set_metadata
    from rtgen.graph_contract import META_KEY

    graph = onnx.load(str(path))
    meta = json.loads({p.key: p.value for p in graph.metadata_props}[META_KEY])
    meta["export"] = {**meta.get("export", {}), **extra}
    set_metadata(graph, meta)
    onnx.save(graph, str(path))


def _copy_baseline(ckpt: Path, out: Path) -> None:
    """Keep the n-gram baseline next to the exported model, so rtgen eval finds it."""
    from rtgen.evaluate import find_baseline

    src = find_baseline(ckpt)
    dst = out.parent / f"{out.name.split('.')[0]}.ngram.npz"
    if src is not None and src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)


def _check_ckpt(ckpt: Path) -> None:
    """Only a training checkpoint can be exported; say so before the loader sees the file."""
    if ckpt.suffix == ".ckpt":
        return
    if ckpt.suffix == ".onnx":
        raise RtgenError(
            f"{ckpt}: already an exported ONNX model; rtgen export takes a checkpoint (.ckpt) "
            "from training"
        )
    raise RtgenError(f"{ckpt}: rtgen export takes a checkpoint (.ckpt) from training")


def _check_opset(opset: int, lowest: int) -> None:
    """Below ``lowest`` the dynamo exporter ignores the request (writes 18 after pages of
    warnings); above what the installed onnx knows, the graph cannot be checked or loaded."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not lowest <= opset <= newest:
        raise RtgenError(f"--opset {opset}: rtgen exports opsets {lowest} to {newest}")


def run_export(
    ckpt: Path, out: Path | None, fmt: Format, quantize: Quantize | None, opset: int, force: bool
) -> dict:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RtgenError("rtgen export needs torch: pip install 'rtgen[train]'") from None
    from rtgen.bench.models import quiet_export
    from rtgen.export.onnx import DEFAULT_OPSET
    from rtgen.export.verify import (
        FP32_RTOL,
        FP32_TOLERANCE,
        fp32_matches,
        parity,
        reference_logits,
    )
    from rtgen.models.checkpoint import load_model

    if fmt == Format.onnx:
        _check_opset(opset, DEFAULT_OPSET)
    suffix = ".onnx" if fmt == Format.onnx else ".pt"
    out = out or ckpt.with_suffix(suffix)
    check_writable(out, "-o")  # before minutes of export, not as its traceback
    model, meta = load_model(ckpt)
    meta = {**meta, "export": {"format": fmt.value, "opset": opset, "source": ckpt.name}}
    if fmt == Format.onnx:
        from rtgen.export.onnx import export_onnx

        with quiet_export():  # hides "torchvision is not installed" lines from the exporter
            export_onnx(model, meta, out, opset)
    else:
        from rtgen.export.torchscript import DEPRECATION_NOTE, export_torchscript

        typer.echo(DEPRECATION_NOTE, err=True)
        export_torchscript(model, meta, out)
    from rtgen.models.sessions import TorchSession

    ref = reference_logits(TorchSession(model, meta))  # once: fp32 and int8 compare to it
    _copy_baseline(ckpt, out)
    fp32 = parity(ref, out)
    report = {"output": str(out), "format": fmt.value, "parity": fp32.as_dict()}
    typer.echo(
        f"wrote {out}: parity over {fp32.steps} teacher-forced steps, "
        f"max |logit diff| {fp32.max_abs_diff:.2e} (limit {FP32_TOLERANCE:.0e} + "
        f"{FP32_RTOL:.0e} x |logit|)"
    )
    if not fp32_matches(fp32):
        out.unlink()
        raise RtgenError(
            f"parity check failed: a logit differs by {fp32.max_excess:.2e} more than "
            f"{FP32_RTOL:.0e} x its size (limit {FP32_TOLERANCE:.0e}); nothing written"
        )
    if fmt == Format.onnx:
        _update_onnx_meta(out, {"parity_max_abs_diff": fp32.max_abs_diff})
    if quantize is None:
        return report
    if fmt != Format.onnx:
        raise RtgenError("--quantize int8 applies to ONNX exports only")
    from rtgen.export.quantize import quantize_int8

    q_out = out.with_name(out.stem + ".int8.onnx")
    ops = quantize_int8(out, q_out)
    return _judge_int8(ref, q_out, ops, report, force)


def _judge_int8(ref: np.ndarray, q_out: Path, ops: list[str], report: dict, force: bool) -> dict:
    """Judge the int8 file on this CPU's runtime and on both x86 kernel paths (numpy), by the
    one rule in rtgen.export.verify; refuse it if any path fails."""
    from rtgen.cpu import integer_path
    from rtgen.export.verify import INT8_MAX_KL, INT8_MAX_REL_ERROR, int8_acceptable, int8_paths

    paths = int8_paths(ref, q_out)
    here = paths["runtime"]
    report["int8"] = {
        "output": str(q_out),
        **here.as_dict(),
        "ops": ops,
        "cpu_int8_path": integer_path(),
        "paths": {name: p.as_dict() for name, p in paths.items()},
    }
    typer.echo(
        f"wrote {q_out}: top-1 agreement {here.top1_agreement:.2%}, mean KL "
        f"{here.mean_kl:.2e} nats against fp32 ({here.steps} steps, this CPU: {integer_path()})"
    )
    for name in ("exact", "avx2"):
        p = paths[name]
        typer.echo(
            f"  {name} kernel path (numpy): agreement {p.top1_agreement:.2%}, KL "
            f"{p.mean_kl:.2e}, logit error {p.rel_error:.3f} x spread"
        )
    bad = [name for name, p in paths.items() if not int8_acceptable(p)]
    if bad and not force:
        q_out.unlink()
        worst = max(paths.values(), key=lambda p: p.rel_error)
        raise RtgenError(
            f"int8 logits are off on the {', '.join(bad)} path(s): error {worst.rel_error:.3f} "
            f"x the logit spread (limit {INT8_MAX_REL_ERROR}), KL {worst.mean_kl:.2e} "
            f"(limit {INT8_MAX_KL}); int8 file removed (use --force to keep)"
        )
    _update_onnx_meta(
        q_out,
        {
            "quantized": "int8",
            "top1_agreement": here.top1_agreement,
            "mean_kl": here.mean_kl,
            "rel_error": max(p.rel_error for p in paths.values()),
        },
    )
    return report


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ckpt: Path = typer.Argument(..., help="A checkpoint (.ckpt) from training.train."),
        out: Path = typer.Option(None, "-o", "--out", help="Output file (default: CKPT.onnx)."),
        fmt: Format = typer.Option(
            Format.onnx,
            "--format",
            help="onnx (default) or torchscript (deprecated by PyTorch; legacy).",
        ),
        quantize: Quantize = typer.Option(
            None,
            "--quantize",
            help="Also write an int8 model (OUT.int8.onnx) and report its agreement.",
        ),
        opset: int = typer.Option(
            18, "--opset", help="ONNX opset version (a Transformer gets at least 20: one Gelu op)."
        ),
        force: bool = typer.Option(
            False,
            "--force",
            help="Keep an int8 model whose logits fail the int8 check on some CPU path.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Export a checkpoint's step graph for the daemon, then check it: 512 teacher-forced
        steps on held-out tokens must match the checkpoint within 1e-4 + 1e-5 x |logit|
        (fp32). int8 is checked on this CPU and on both x86 integer kernel paths (VNNI's exact
        sums and AVX2's saturating ones, evaluated in numpy) and refused if, on any of them,
        the logit error exceeds 0.1 x the logit spread or the KL 0.01 nats."""
        if not ckpt.is_file():
            raise RtgenError(f"{ckpt}: no such file")
        _check_ckpt(ckpt)
        report = run_export(ckpt, out, fmt, quantize, opset, force)
        if as_json:
            typer.echo(json.dumps(report))
