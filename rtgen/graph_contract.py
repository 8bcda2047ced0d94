"""The step graph's contract: what an exported model file holds and what a runtime feeds it.

Read by both sides, so they cannot drift apart: ``rtgen.export`` writes graphs with these
input and output names and this metadata; ``rtgen.engine.session`` (ONNX Runtime) and the
torch sessions beside the models (``rtgen.models.sessions``) check and run them.

    LSTM:        (token[1] int64, h, c)                   -> (logits[1, V], h_out, c_out)
    Transformer: (token, rope, bias, k_cache_0..L-1, v_cache_0..L-1)
                 -> (logits, k_new_0..L-1, v_new_0..L-1)

Every file describes itself (DESIGN.md): the JSON under ``META_KEY`` (ONNX) or in
``TORCHSCRIPT_META_FILE`` (TorchScript) carries the format tag, model kind and config, and the
vocabulary; :func:`check_meta` is the one judge of it. Imports no runtime at module level:
ONNX Runtime loads when an ONNX file's metadata is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rtgen import tokens as T
from rtgen.errors import RtgenError

META_KEY = "rtgen"  # ONNX metadata_props key holding the JSON self-description
TORCHSCRIPT_META_FILE = "rtgen.json"  # the same JSON, as an extra file in a TorchScript archive
FORMAT = "rtgen-ckpt-1"  # the format tag of the metadata (checkpoints and exported files)

# The config keys each kind's step graph needs, all positive integers. Anything else in the
# metadata is descriptive (data, metrics) and never read by the runtime.
NEEDED_CONFIG = {
    "lstm": ("vocab_size", "hidden", "layers"),
    "transformer": ("vocab_size", "d_model", "heads", "layers", "window"),
}


def load_ort() -> Any:
    """The onnxruntime module, or one RtgenError saying how to install it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise RtgenError(
            "ONNX Runtime is not installed: pip install 'rtgen[cpu]' (or 'rtgen[gpu]')"
        ) from None
    return ort


def check_meta(meta: object, path: Path) -> dict:
    """The metadata as a dict the runtime can trust, or one RtgenError naming what is wrong."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RtgenError(f"{path}: no rtgen metadata (not exported by rtgen export)")
    vocab = meta.get("vocab")
    version = vocab.get("version") if isinstance(vocab, dict) else None
    if version != T.VOCAB_VERSION:
        raise RtgenError(f"{path}: vocabulary {version!r} is not this rtgen's {T.VOCAB_VERSION!r}")
    kind = meta.get("kind")
    if kind not in NEEDED_CONFIG:
        raise RtgenError(f"{path}: model kind {kind!r} is not one of {', '.join(NEEDED_CONFIG)}")
    cfg = meta.get("config")
    if not isinstance(cfg, dict):
        raise RtgenError(f"{path}: metadata has no model config")
    for key in NEEDED_CONFIG[kind]:
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise RtgenError(
                f"{path}: metadata config.{key} must be a positive integer, not {value!r}"
            )
    if cfg["vocab_size"] != T.VOCAB_SIZE:
        raise RtgenError(
            f"{path}: vocab_size {cfg['vocab_size']} is not this rtgen's {T.VOCAB_SIZE}"
        )
    if kind == "transformer" and cfg["d_model"] % cfg["heads"]:
        raise RtgenError(f"{path}: metadata d_model is not a multiple of heads")
    return meta


def read_onnx_meta(path: Path) -> dict:
    """The JSON self-description stored in an rtgen ONNX file, checked."""
    ort = load_ort()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise RtgenError(f"{path}: not a readable ONNX model ({reason})") from None
    raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise RtgenError(f"{path}: no rtgen metadata (not exported by rtgen export)")
    try:
        meta = json.loads(raw)
    except ValueError:
        raise RtgenError(f"{path}: rtgen metadata is not valid JSON") from None
    return check_meta(meta, path)


def _layer_names(prefixes: tuple[str, ...], layers: int) -> list[str]:
    return [f"{prefix}_{i}" for prefix in prefixes for i in range(layers)]


def graph_inputs(kind: str, cfg: dict) -> list[str]:
    """The step graph's input names in order (DESIGN.md model contract). A Transformer takes
    one key and one value ring per layer: slicing a stacked input inside the graph would copy
    it every step."""
    if kind == "lstm":
        return ["token", "h", "c"]
    return ["token", "rope", "bias", *_layer_names(("k_cache", "v_cache"), cfg["layers"])]


def graph_outputs(kind: str, cfg: dict) -> list[str]:
    """The step graph's output names in order. A Transformer returns only the token's key and
    value per layer (1, heads, 1, head_dim): the session writes them into their ring slot."""
    if kind == "lstm":
        return ["logits", "h_out", "c_out"]
    return ["logits", *_layer_names(("k_new", "v_new"), cfg["layers"])]


def state_shapes(kind: str, cfg: dict) -> list[tuple[int, ...]]:
    """The shapes of the two recurrent state tensors a session holds: h and c, or the key and
    value rings of all layers stacked (keys transposed: q @ K^T is then a plain matmul); a
    Transformer graph takes them one layer at a time."""
    if kind == "lstm":
        return [(cfg["layers"], 1, cfg["hidden"])] * 2
    layers, heads, window = cfg["layers"], cfg["heads"], cfg["window"]
    head_dim = cfg["d_model"] // heads
    return [(layers, 1, heads, head_dim, window), (layers, 1, heads, window, head_dim)]


def input_shape(kind: str, cfg: dict, name: str) -> tuple[int, ...] | None:
    """The shape a state input must have, None for the other inputs."""
    k, v = state_shapes(kind, cfg)
    if kind == "lstm":
        return k if name in ("h", "c") else None
    if name.startswith("k_cache_"):
        return k[1:]
    return v[1:] if name.startswith("v_cache_") else None


def batch_axis(sess: Any) -> bool:
    """Whether a step graph steps a batch of states at once (its token input's length is a
    named axis, not 1): LSTM graphs exported since best-of-N candidates (rtgen export)."""
    token = next(i for i in sess.get_inputs() if i.name == "token")
    return bool(token.shape) and isinstance(token.shape[0], str)


def check_graph(sess: Any, meta: dict, path: Path) -> None:
    """Refuse a graph (an onnxruntime.InferenceSession) whose inputs or outputs do not match
    what its metadata says."""
    kind, cfg = meta["kind"], meta["config"]
    names = [i.name for i in sess.get_inputs()]
    if sorted(names) != sorted(graph_inputs(kind, cfg)):
        raise RtgenError(f"{path}: graph inputs {names} do not match a {kind} step graph")
    outputs = [o.name for o in sess.get_outputs()]
    if outputs != graph_outputs(kind, cfg):
        raise RtgenError(f"{path}: graph outputs {outputs} do not match a {kind} step graph")
    for i in sess.get_inputs():
        want = input_shape(kind, cfg, i.name)
        if want is not None and i.name in ("h", "c") and batch_axis(sess):
            want = (want[0], i.shape[1], *want[2:])  # a batched LSTM graph: any batch
        if want is not None and tuple(i.shape) != want:
            raise RtgenError(
                f"{path}: graph input {i.name} has shape {i.shape}, metadata says {list(want)}"
            )
