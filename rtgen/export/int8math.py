"""The integer math of an int8 step graph, evaluated in numpy on either x86 kernel path.

ONNX Runtime's integer GEMMs (``DynamicQuantizeLSTM``, ``MatMulInteger``) quantize their
float input to u8 per call (DynamicQuantizeLinear's rule) and multiply it by the int8 (or
uint8) weights. How the products are summed depends on the CPU (MLAS kernels):

- ``exact``: every u8 x s8 product summed in int32. VNNI (``vpdpbusd``), ARM dot product,
  and any u8 x u8 kernel (AVX2 widens both to int16 and uses ``vpmaddwd``) do this.
- ``avx2``: x86 without VNNI multiplies u8 x s8 with ``vpmaddubsw``, which adds two
  adjacent products and *saturates* the pair to int16 before the int32 sum. A u8 input near
  255 times a weight near +-127 overflows (255 x 127 x 2 = 64,770 > 32,767): this is why an
  int8 model can be right on one laptop and wrong on the next. Weights quantized with
  ``reduce_range`` (7 bits, |w| <= 64) cannot overflow: 255 x 64 x 2 = 32,640.

Evaluating both here makes a test cover both paths whatever CPU it runs on. Only the ops
rtgen's LSTM and head graphs use are implemented; anything else is an error, not a guess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtgen.errors import RtgenError

KERNELS = ("exact", "avx2")


def quantize_u8(x: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """DynamicQuantizeLinear: u8 over the range of ``x`` widened to include 0."""
    x = x.astype(np.float32)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0) if hi > lo else np.float32(1.0)
    zp = np.uint8(np.clip(np.round(np.float32(0.0 - lo) / scale), 0, 255))
    q = np.clip(np.round(x / scale) + float(zp), 0, 255).astype(np.uint8)
    return q, scale, zp


def int_matmul(
    a: np.ndarray, a_zp: int, b: np.ndarray, b_zp: np.ndarray, kernel: str
) -> np.ndarray:
    """(M, K) u8 x (K, N) int8/uint8 -> (M, N) int32, zero points subtracted.

    MLAS multiplies the raw bytes and corrects for the zero points with row and column
    sums afterwards, so the avx2 saturation applies to the raw products, as here."""
    a64 = a.astype(np.int64)
    b64 = b.astype(np.int64)
    k = a.shape[1]
    if kernel == "avx2" and b.dtype == np.int8:
        if k % 2:
            a64 = np.pad(a64, ((0, 0), (0, 1)))
            b64 = np.pad(b64, ((0, 1), (0, 0)))
        prod = a64[:, :, None] * b64[None, :, :]  # (M, K, N)
        pairs = prod[:, 0::2, :] + prod[:, 1::2, :]
        raw = np.clip(pairs, -32768, 32767).sum(axis=1)
        a64, b64 = a.astype(np.int64), b.astype(np.int64)  # unpadded, for the sums
    elif kernel in KERNELS:
        raw = a64 @ b64
    else:
        raise ValueError(f"kernel {kernel!r}: one of {KERNELS}")
    b_zp = np.broadcast_to(np.asarray(b_zp, dtype=np.int64).reshape(-1), (b.shape[1],))
    row = a64.sum(axis=1, keepdims=True)  # (M, 1)
    col = b64.sum(axis=0, keepdims=True)  # (1, N)
    return raw - int(a_zp) * col - row * b_zp[None, :] + k * int(a_zp) * b_zp[None, :]


def _gemm_q(x: np.ndarray, w: np.ndarray, scale, zp, kernel: str) -> np.ndarray:
    """float (M, K) x quantized (K, N) -> float (M, N), the input quantized per call."""
    q, s, z = quantize_u8(x)
    acc = int_matmul(q, int(z), w, zp, kernel)
    return acc.astype(np.float32) * (np.float32(s) * np.asarray(scale, np.float32).reshape(-1))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _lstm(x, w, r, b, h0, c0, gemm):
    """ONNX LSTM, one direction, gates i o f c. x (T, B, I); w (I, 4H) and r (H, 4H) as
    ``gemm`` takes them; b (8H,). Returns Y (T, 1, B, H), Y_h, Y_c (1, B, H)."""
    hidden = h0.shape[-1]
    h, c = h0[0].astype(np.float32), c0[0].astype(np.float32)
    bias = b[: 4 * hidden] + b[4 * hidden :]
    xw = gemm(x.reshape(-1, x.shape[-1]), w).reshape(x.shape[0], x.shape[1], -1)
    ys = []
    for t in range(x.shape[0]):
        g = xw[t] + gemm(h, r) + bias
        i, o, f, cc = (g[:, k * hidden : (k + 1) * hidden] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cc)
        h = _sigmoid(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys)[:, None], h[None], c[None]


class _Graph:
    """A tiny interpreter over one ONNX graph's nodes, in order."""

    def __init__(self, path: Path, kernel: str) -> None:
        import onnx
        from onnx import numpy_helper

        if kernel not in KERNELS:
            raise ValueError(f"kernel {kernel!r}: one of {KERNELS}")
        model = onnx.load(str(path))
        self.kernel = kernel
        self.nodes = list(model.graph.node)
        self.consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.outputs = [o.name for o in model.graph.output]
        for n in self.nodes:
            if not hasattr(self, "_op_" + n.op_type):
                raise RtgenError(f"{path}: int8 math does not know op {n.op_type}")

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        env = {**self.consts, **feeds, "": None}
        for n in self.nodes:
            args = [env[i] for i in n.input]
            attrs = {a.name: _attr(a) for a in n.attribute}
            out = getattr(self, "_op_" + n.op_type)(*args, **attrs)
            out = out if isinstance(out, tuple) else (out,)
            env.update(zip(n.output, out))
        return [env[o] for o in self.outputs]

    # the ops, each as ONNX (or ORT's contrib domain) defines it
    def _op_Reshape(self, x, shape, allowzero=0):
        shape = [x.shape[i] if (s == 0 and not allowzero) else s for i, s in enumerate(shape)]
        return x.reshape(shape)

    def _op_Slice(self, x, starts, ends, axes=None, steps=None):
        axes = range(len(starts)) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        sl = [slice(None)] * x.ndim
        for a, s, e, st in zip(axes, starts, ends, steps):
            sl[int(a)] = slice(int(s), int(e), int(st))
        return x[tuple(sl)]

    def _op_Shape(self, x, start=0, end=None):  # a batched graph reads its batch size
        return np.array(x.shape[start:end], dtype=np.int64)

    def _op_Gather(self, x, idx, axis=0):
        return np.take(x, idx, axis=axis)

    def _op_Transpose(self, x, perm=None):
        return np.transpose(x, perm)

    def _op_Concat(self, *xs, axis):
        return np.concatenate(xs, axis=axis)

    def _op_Unsqueeze(self, x, axes):
        return np.expand_dims(x, tuple(int(a) for a in axes))

    def _op_Squeeze(self, x, axes=None):
        return np.squeeze(x, None if axes is None else tuple(int(a) for a in axes))

    def _op_Identity(self, x):
        return x

    def _op_Add(self, a, b):
        return a + b

    def _op_Mul(self, a, b):
        return a * b

    def _op_Cast(self, x, to):
        from onnx import helper

        return x.astype(helper.tensor_dtype_to_np_dtype(to))

    def _op_MatMul(self, a, b):
        return a @ b

    def _op_DequantizeLinear(self, x, scale, zp=None, axis=1):
        zp = 0 if zp is None else zp.astype(np.float32)
        return (x.astype(np.float32) - zp) * scale

    def _op_DynamicQuantizeLinear(self, x):
        q, s, z = quantize_u8(x)
        return q, np.asarray(s, np.float32), np.asarray(z, np.uint8)

    def _op_MatMulInteger(self, a, b, a_zp=None, b_zp=None):
        a2 = a.reshape(-1, a.shape[-1])
        a_zp = 0 if a_zp is None else int(a_zp)
        acc = int_matmul(a2, a_zp, b, 0 if b_zp is None else b_zp, self.kernel)
        return acc.reshape(*a.shape[:-1], b.shape[-1]).astype(np.int32)

    def _op_DynamicQuantizeMatMul(self, a, b, b_scale, b_zp=None, bias=None):
        y = _gemm_q(
            a.reshape(-1, a.shape[-1]), b, b_scale, 0 if b_zp is None else b_zp, self.kernel
        )
        y = y.reshape(*a.shape[:-1], b.shape[-1])
        return y if bias is None else y + bias

    def _op_LSTM(self, x, w, r, b, seq_lens=None, h0=None, c0=None, **_):
        return _lstm(x, w[0].T, r[0].T, b[0], h0, c0, lambda a, m: a @ m)

    def _op_DynamicQuantizeLSTM(
        self,
        x,
        w,
        r,
        b,
        seq_lens,
        h0,
        c0,
        p,
        w_scale,
        w_zp,
        r_scale,
        r_zp,
        **_,
    ):
        def gemm(a: np.ndarray, which: str) -> np.ndarray:
            m, s, z = (w, w_scale, w_zp) if which == "w" else (r, r_scale, r_zp)
            return _gemm_q(a, m[0], s, z, self.kernel)

        return _lstm(x, "w", "r", b[0], h0, c0, gemm)


def _attr(a):
    from onnx import helper

    v = helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


class Int8MathSession:
    """The step-graph session contract (reset / step / snapshot / restore) over ``_Graph``:
    an int8 model's logits as a CPU of the given kernel path would compute them."""

    def __init__(self, path: Path, kernel: str = "exact") -> None:
        from rtgen.graph_contract import graph_inputs, read_onnx_meta, state_shapes

        self.meta = read_onnx_meta(path)
        if self.meta["kind"] != "lstm":
            raise RtgenError(f"{path}: int8 math covers the LSTM step graph only")
        self.graph = _Graph(path, kernel)
        self.state_names = graph_inputs("lstm", self.meta["config"])[1:]
        self.shapes = state_shapes("lstm", self.meta["config"])
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros(s, np.float32) for s in self.shapes]

    def step(self, token: int) -> np.ndarray:
        feeds = {"token": np.array([token], np.int64), **dict(zip(self.state_names, self.state))}
        logits, *self.state = self.graph.run(feeds)
        return np.asarray(logits, np.float32).reshape(-1)

    def snapshot(self) -> tuple:
        return tuple(s.copy() for s in self.state)

    def restore(self, snap: tuple) -> None:
        self.state = [s.copy() for s in snap]
