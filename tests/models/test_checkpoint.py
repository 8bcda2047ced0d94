"""Checkpoints describe themselves and never run code on load; bad files are one-line errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from rtgen.errors import RtgenError
from rtgen.models.checkpoint import describe, load_model, make_config, save_checkpoint
from rtgen.models.lstm import LSTMConfig, LSTMModel
from rtgen.tokens import VOCAB_VERSION


def _save_tiny(path: Path) -> LSTMModel:
    model = LSTMModel(LSTMConfig(embed=8, hidden=16, layers=1, dropout=0.0))
    save_checkpoint(path, model, describe(model, {"source": "test"}, {"valid": 1.0}))
    return model


def test_checkpoint_round_trip_carries_its_description(tmp_path: Path) -> None:
    """A saved checkpoint rebuilds the same model and reports vocabulary, grid and config."""
    model = _save_tiny(tmp_path / "m.ckpt")
    loaded, meta = load_model(tmp_path / "m.ckpt")
    assert meta["vocab"]["version"] == VOCAB_VERSION and meta["grid_steps_per_beat"] == 12
    assert meta["config"]["hidden"] == 16 and meta["kind"] == "lstm"
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values())
    )


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).touch, ())


def test_pickled_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    """A checkpoint holding a pickled payload is refused, and the payload does not execute."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"format": "rtgen-ckpt-1", "x": _Payload(str(marker))}, path)
    with pytest.raises(RtgenError, match="pickled"):
        load_model(path)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Payload(str(marker))))  # the payload is real: it does run
    assert marker.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "cannot load checkpoint \\(empty file\\)"),
        (b"MThd\x00\x00\x00\x06 this is a MIDI file", "not a torch zip file"),
        (b"hello\n", "not a torch zip file"),  # torch itself said only "(101)"
    ],
)
def test_foreign_or_empty_files_are_one_line_errors(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    """An empty file or another program's file gives a one-line reason."""
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(RtgenError, match=reason) as exc:
        load_model(path)
    assert "\n" not in str(exc.value)


def test_midi_and_onnx_files_are_not_called_pickled_code(tmp_path: Path) -> None:
    """Only a real torch checkpoint refused by weights_only gets the "pickled" reason."""
    assets = Path(__file__).resolve().parents[2] / "rtgen" / "assets"
    for path in [assets / "default.onnx", *sorted((assets / "demo").glob("*.mid"))[:1]]:
        with pytest.raises(RtgenError, match="not a torch zip file") as exc:
            load_model(path)
        assert "pickled" not in str(exc.value)


def test_truncated_checkpoint_is_one_line_error(tmp_path: Path) -> None:
    """A checkpoint cut in half (an interrupted copy) is reported, not a traceback."""
    _save_tiny(tmp_path / "m.ckpt")
    data = (tmp_path / "m.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RtgenError, match="cannot load checkpoint"):
        load_model(tmp_path / "cut.ckpt")


def test_torch_file_without_rtgen_tag_is_refused(tmp_path: Path) -> None:
    """A plain tensor dict saved by another program is not mistaken for an rtgen model."""
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.ckpt")
    with pytest.raises(RtgenError, match="not an rtgen checkpoint"):
        load_model(tmp_path / "other.ckpt")


def test_unknown_vocabulary_version_is_refused(tmp_path: Path) -> None:
    """A checkpoint made with another vocabulary version is a clear error."""
    model = LSTMModel(LSTMConfig(embed=8, hidden=16, layers=1))
    meta = describe(model, {}, {})
    meta["vocab"] = {**meta["vocab"], "version": "rtgen-tokens-999"}
    save_checkpoint(tmp_path / "v.ckpt", model, meta)
    with pytest.raises(RtgenError, match="rtgen-tokens-999"):
        load_model(tmp_path / "v.ckpt")


def test_model_config_rejects_unknown_keys_and_wrong_types() -> None:
    """make_config names the bad key, and the type it wanted."""
    with pytest.raises(RtgenError, match="unknown lstm setting 'width'"):
        make_config("lstm", {"width": 3})
    with pytest.raises(RtgenError, match="must be int"):
        make_config("lstm", {"hidden": 2.5})
    assert make_config("lstm", {"dropout": 0}).dropout == 0.0
