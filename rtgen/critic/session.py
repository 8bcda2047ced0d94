"""The critic at play time: ONNX Runtime, one thread, rows from rtgen.critic.features.

    critic = CriticSession.open(path)
    scores = critic.scores(rows)        # (N,) higher: more like a real continuation

A critic file describes itself like a model file: the JSON under the ``rtgen`` metadata key
holds the format tag (``rtgen-critic-1``), the vocabulary it reads and its config; a file
that is not one, or reads another vocabulary, is one RtgenError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rtgen import tokens as T
from rtgen.critic.features import FORMAT, ROW_TOKENS
from rtgen.errors import RtgenError
from rtgen.graph_contract import META_KEY, load_ort


def _meta(sess) -> dict | None:
    """A critic's metadata from an open ONNX Runtime session, or None for any other file."""
    raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def critic_meta(path: Path) -> dict | None:
    """The metadata of ``path`` if it is a critic (rtgen info), else None."""
    ort = load_ort()
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:
        return None
    return _meta(sess)


class CriticSession:
    def __init__(self, sess, meta: dict, path: Path) -> None:
        self.sess, self.meta, self.path = sess, meta, path
        self.calls = 0

    @classmethod
    def open(cls, path: Path | str) -> CriticSession:
        ort = load_ort()
        path = Path(path)
        if not path.is_file():
            raise RtgenError(f"--critic {path}: no such file")
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:  # the CPU provider always: N rows of a small GRU cost less than a transfer
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise RtgenError(f"--critic {path}: not a readable ONNX file ({reason})") from None
        meta = _meta(sess)
        if meta is None:
            raise RtgenError(f"--critic {path}: not an rtgen critic (no {FORMAT} metadata)")
        version = (meta.get("vocab") or {}).get("version")
        if version != T.VOCAB_VERSION:
            raise RtgenError(f"--critic {path}: vocabulary {version!r} is not {T.VOCAB_VERSION!r}")
        if (meta.get("config") or {}).get("row_tokens") != ROW_TOKENS:
            raise RtgenError(f"--critic {path}: reads rows of another length; retrain it")
        return cls(sess, meta, path)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """(N,) float64 scores of (N, ROW_TOKENS) int64 rows."""
        self.calls += 1
        out = self.sess.run(None, {"tokens": np.ascontiguousarray(rows, dtype=np.int64)})[0]
        return out.astype(np.float64).reshape(-1)
