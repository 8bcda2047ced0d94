"""int8 dynamic quantization of an exported ONNX step graph.

``quantize_dynamic`` alone quantizes only the last MatMul of an LSTM graph; the graph must
first go through ``quant_pre_process`` (shape inference and optimisation), after which the
LSTM itself becomes ``DynamicQuantizeLSTM``. The result is checked for that op.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rtgen.errors import RtgenError


def quantize_int8(fp32: Path, out: Path) -> list[str]:
    """Write the int8 model; returns the op types of the result."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantize_dynamic(str(pre), str(out), weight_type=QuantType.QInt8)
    graph = onnx.load(str(out))
    ops = sorted({n.op_type for n in graph.graph.node})
    meta_src = onnx.load(str(fp32))
    del graph.metadata_props[:]
    graph.metadata_props.extend(meta_src.metadata_props)
    onnx.save(graph, str(out))
    if "LSTM" in ops:
        raise RtgenError(f"{out}: int8 quantization left the LSTM in fp32 (ops: {ops})")
    return ops
