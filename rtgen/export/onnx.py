"""Checkpoint -> ONNX step graph, with the checkpoint's self-description in the metadata.

    LSTM:        (token[1] int64, h, c)                          -> (logits[1, V], h_out, c_out)
    Transformer: (token, cos, sin, bias, k_cache_0..L-1, v_cache_0..L-1)
                 -> (logits, k_new, v_new)

The Transformer's ring-buffer cache has a fixed size, so each step costs the same at minute
one and at hour three. Its position-dependent inputs (rotary cos/sin and the mask of slots to
attend to) are computed by the runtime in numpy (float64 angles), so the graph never sees an
absolute position that could lose float32 precision in a long session. The graph only reads
the ring, one input per layer (a slice of a stacked input would be a copy in ONNX Runtime),
and returns the token's keys/values (layers, 1, heads, 1, head_dim); the runtime writes them
into their slot. So no step copies the cache: it costs reading it, never rewriting it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from rtgen.engine.session import graph_inputs
from rtgen.errors import RtgenError

META_KEY = "rtgen"  # metadata_props key holding the JSON self-description
DEFAULT_OPSET = 18


class LSTMStep(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, h, c):  # noqa: ANN001, ANN201 - traced signature
        logits, (h2, c2) = self.model.step(token, (h, c))
        return logits, h2, c2


class TransformerStep(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, cos, sin, bias, *caches):  # noqa: ANN001, ANN201
        layers = len(caches) // 2
        return self.model.step_raw(token, cos, sin, bias, caches[:layers], caches[layers:])


def step_module(model: torch.nn.Module) -> tuple[torch.nn.Module, tuple, list[str], list[str]]:
    """(wrapper, example inputs, input names, output names) for a model's step graph."""
    token = torch.tensor([1], dtype=torch.int64)
    if model.kind == "lstm":
        h, c = model.init_state()
        return LSTMStep(model), (token, h, c), ["token", "h", "c"], ["logits", "h_out", "c_out"]
    if model.kind == "transformer":
        k, v, _ = model.init_state()
        cos, sin, bias = model.step_inputs(0)
        rings = (*k.unbind(0), *v.unbind(0))
        return (
            TransformerStep(model),
            (token, cos, sin, bias, *rings),
            graph_inputs("transformer", vars(model.cfg)),
            ["logits", "k_new", "v_new"],
        )
    raise RtgenError(f"cannot export a model of kind {model.kind!r}")


def export_onnx(model: torch.nn.Module, meta: dict, out: Path, opset: int = DEFAULT_OPSET) -> None:
    """Export the step graph (dynamo exporter) and store ``meta`` as JSON in the metadata."""
    import onnx

    wrapper, inputs, in_names, out_names = step_module(model.eval())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not for users
        torch.onnx.export(
            wrapper,
            inputs,
            str(out),
            input_names=in_names,
            output_names=out_names,
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    graph = onnx.load(str(out))
    set_metadata(graph, meta)
    onnx.save(graph, str(out))
    for extra in Path(out).parent.glob(Path(out).name + ".data"):
        extra.unlink()  # small models fit in one file; drop the exporter's external-data file


def set_metadata(graph, meta: dict) -> None:  # noqa: ANN001 - onnx.ModelProto
    del graph.metadata_props[:]
    prop = graph.metadata_props.add()
    prop.key, prop.value = META_KEY, json.dumps(meta)
