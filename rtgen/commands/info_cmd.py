"""`rtgen info`: what a model file says about itself, and what this machine can run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rtgen.assets import default_model
from rtgen.cpu import integer_path
from rtgen.errors import RtgenError


def model_info(path: Path) -> dict:
    if not path.is_file():
        raise RtgenError(f"{path}: no such file")
    if path.suffix == ".onnx":
        from rtgen.critic.session import critic_meta
        from rtgen.graph_contract import read_onnx_meta

        try:
            meta, fmt = read_onnx_meta(path), "onnx"
        except RtgenError:  # not a model: a critic describes itself in its own format
            critic = critic_meta(path)
            if critic is None:
                raise
            return _critic_info(path, critic)
        if meta.get("export", {}).get("quantized"):
            fmt = f"onnx ({meta['export']['quantized']})"
    elif path.suffix == ".ckpt":
        try:
            from rtgen.models.checkpoint import read_checkpoint
        except ImportError:
            raise RtgenError(f"{path}: reading a checkpoint needs torch") from None
        blob = read_checkpoint(path)
        meta = {k: v for k, v in blob.items() if k not in ("state_dict", "train_state")}
        fmt = "checkpoint"
    elif path.suffix == ".pt":
        from rtgen.models.sessions import TorchScriptSession

        meta, fmt = TorchScriptSession(path).meta, "torchscript (deprecated)"
    else:
        raise RtgenError(f"{path}: unknown model format (expected .onnx, .ckpt or .pt)")
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
    except ImportError:
        providers = []
    vocab = meta.get("vocab", {})
    return {
        "path": str(path),
        "format": fmt,
        "kind": meta.get("kind"),
        "parameters": meta.get("parameters"),
        "config": meta.get("config"),
        "vocab_version": vocab.get("version"),
        "vocab_size": vocab.get("size"),
        "grid_steps_per_beat": meta.get("grid_steps_per_beat"),
        "data": meta.get("data"),
        "metrics": meta.get("metrics"),
        "export": meta.get("export"),
        "code_version": meta.get("code_version"),
        "providers_available": providers,
        "cpu_int8_path": integer_path(),
    }


def _critic_info(path: Path, meta: dict) -> dict:
    """A critic file (training/critic.py): what it reads and how well it told real from
    generated answers when it was trained."""
    keys = ("round", "candidates_sampled", "valid_auc_prefix", "valid_auc_full", "calls")
    return {
        "path": str(path),
        "format": "onnx (critic)",
        "kind": "critic",
        "config": meta.get("config"),
        "vocab_version": (meta.get("vocab") or {}).get("version"),
        "metrics": {k: meta.get(k) for k in keys},
    }


def _print(info: dict) -> None:
    if info["kind"] == "critic":
        typer.echo(
            f"critic     {info['path']}\nformat     {info['format']}\n"
            f"config     {json.dumps(info['config'])}\nvocabulary {info['vocab_version']}\n"
            f"trained    {json.dumps(info['metrics'])}"
        )
        return
    data, metrics = info["data"] or {}, info["metrics"] or {}
    lines = [
        f"model      {info['path']}",
        f"format     {info['format']}",
        f"kind       {info['kind']}  ({info['parameters']:,} parameters)"
        if info["parameters"]
        else f"kind       {info['kind']}",
        f"config     {json.dumps(info['config'])}",
        f"vocabulary {info['vocab_version']} ({info['vocab_size']} tokens), "
        f"grid {info['grid_steps_per_beat']} steps per beat",
        f"data       {data.get('source', '?')}: {data.get('pieces', '?')} pieces, "
        f"{data.get('tokens', '?')} tokens",
        "metrics    "
        + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        ),
    ]
    if info["export"]:
        lines.append(f"export     {json.dumps(info['export'])}")
    lines.append(f"providers  {', '.join(info['providers_available']) or 'none (no onnxruntime)'}")
    lines.append(
        f"cpu int8   {info['cpu_int8_path']} (how int8 figures on this machine are computed)"
    )
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command("info")
    def info_command(
        model: Path = typer.Argument(
            None, help="Model file (.onnx, .ckpt, .pt); default: the bundled model."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Show a model's self-description (format, kind, parameters, vocabulary, grid,
        training data, metrics, export parity), the execution providers available here, and
        this CPU's int8 kernel path (VNNI, AVX2, ARM dot product)."""
        info = model_info(model or default_model())
        typer.echo(json.dumps(info)) if as_json else _print(info)
