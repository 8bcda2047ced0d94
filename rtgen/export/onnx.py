"""Checkpoint -> ONNX step graph, with the checkpoint's self-description in the metadata.

    LSTM:        (token[N] int64, h, c)                          -> (logits[N, V], h_out, c_out)
    Transformer: (token, rope, bias, k_cache_0..L-1, v_cache_0..L-1)
                 -> (logits, k_new_0..L-1, v_new_0..L-1)

An LSTM graph steps a batch of N states at once (N a named axis: the planner's best-of-N
candidates in one run; N = 1 is the plain step). The Transformer's ring-buffer cache has a
fixed size, so each step costs the same at minute one and at hour three. Its position-
dependent inputs (the rotary matrix and the mask of slots to attend to) are computed by the
runtime in numpy (float64 angles), so the graph never sees an absolute position that could
lose float32 precision in a long session. The graph only reads the rings and returns the
token's key and value per layer (1, heads, 1, head_dim); the runtime writes them into their
slot. So no step copies the cache: it costs reading it, never rewriting it. Rings and new
keys/values are one graph input/output per layer: slicing a stacked input, or stacking the
outputs, would cost copies and nodes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from rtgen.errors import RtgenError
from rtgen.graph_contract import META_KEY, graph_inputs, graph_outputs

DEFAULT_OPSET = 18
# The lowest opset a kind is exported with. From opset 20 ONNX has a Gelu op: one node where
# opset 18 spells it in five (which ONNX Runtime's CPU optimizer does not fuse back), and a
# Transformer step runs one per layer.
MIN_OPSET = {"transformer": 20}
MAX_BATCH = 64  # the most candidate states an LSTM step graph runs at once


def graph_opset(kind: str, asked: int) -> int:
    return max(asked, MIN_OPSET.get(kind, asked))


class LSTMStep(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, h, c):
        logits, (h2, c2) = self.model.step(token, (h, c))
        return logits, h2, c2


class TransformerStep(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, rope, bias, *rings):
        layers = len(rings) // 2
        return self.model.step_raw(token, rope, bias, rings[:layers], rings[layers:])


def step_module(
    model: torch.nn.Module, batched: bool = True
) -> tuple[torch.nn.Module, tuple, list[str], list[str]]:
    """(wrapper, example inputs, input names, output names) for a model's step graph."""
    token = torch.tensor([1], dtype=torch.int64)
    cfg = vars(model.cfg)
    if model.kind == "lstm":  # a batch of 2 in the example: an axis of 1 would be fixed
        n = 2 if batched else 1
        h, c = model.init_state(n)
        names = graph_inputs("lstm", cfg), graph_outputs("lstm", cfg)
        return LSTMStep(model), (token.repeat(n), h, c), *names
    if model.kind == "transformer":
        k, v, _ = model.init_state()
        rope, bias = model.step_inputs(0)
        return (
            TransformerStep(model),
            (token, rope, bias, *k.unbind(0), *v.unbind(0)),
            graph_inputs("transformer", cfg),
            graph_outputs("transformer", cfg),
        )
    raise RtgenError(f"cannot export a model of kind {model.kind!r}")


def export_onnx(
    model: torch.nn.Module,
    meta: dict,
    out: Path,
    opset: int = DEFAULT_OPSET,
    batched: bool = True,
) -> None:
    """Export the step graph (dynamo exporter) and store ``meta`` as JSON in the metadata;
    ``opset`` is raised to the kind's MIN_OPSET, and the metadata says which was used.
    ``batched=False`` writes an LSTM graph of one state, as files exported before best-of-N
    candidates were (the tests check that such files still play)."""
    import onnx

    opset = graph_opset(model.kind, opset)
    if "export" in meta:
        meta = {**meta, "export": {**meta["export"], "opset": opset}}
    wrapper, inputs, in_names, out_names = step_module(model.eval(), batched)
    dynamic = None
    if model.kind == "lstm" and batched:
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        dynamic = {"token": {0: batch}, "h": {1: batch}, "c": {1: batch}}
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
            dynamic_shapes=dynamic,
            verbose=False,
        )
    graph = onnx.load(str(out))
    set_metadata(graph, meta)
    onnx.save(graph, str(out))
    for extra in Path(out).parent.glob(Path(out).name + ".data"):
        extra.unlink()  # small models fit in one file; drop the exporter's external-data file


def set_metadata(graph, meta: dict) -> None:
    del graph.metadata_props[:]
    prop = graph.metadata_props.add()
    prop.key, prop.value = META_KEY, json.dumps(meta)
