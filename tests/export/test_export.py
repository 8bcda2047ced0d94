"""`rtgen export` writes step graphs that match their checkpoint, and refuses what it cannot do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from rtgen.export.verify import heldout_tokens, run_logits
from rtgen.sessions import open_session
from tests.support.checkpoints import SMALL

RTGEN = [sys.executable, "-m", "rtgen"]


def rtgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*RTGEN, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(ckpts: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each kind exported once by the real CLI (LSTM with int8): (path, report, result)."""
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for kind, extra in (("lstm", ["--quantize", "int8"]), ("transformer", [])):
        path = folder / f"{kind}.onnx"
        res = rtgen("export", str(ckpts[kind]), "-o", str(path), "--json", *extra)
        assert res.returncode == 0, res.stderr
        out[kind] = (path, json.loads(res.stdout.strip().splitlines()[-1]), res)
    return out


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_onnx_export_matches_checkpoint_within_1e4(kind: str, ckpts: dict, exported: dict) -> None:
    """The export's own parity check passes and an independent re-check agrees."""
    out, report, _ = exported[kind]
    assert report["parity"]["steps"] == 512 and report["parity"]["max_abs_diff"] <= 1e-4
    tokens = heldout_tokens(128)
    ref = run_logits(open_session(ckpts[kind]), tokens)
    got = run_logits(open_session(out, device="cpu"), tokens)
    assert abs(ref - got).max() <= 1e-4
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["rtgen"])
    assert meta["kind"] == kind and meta["vocab"]["version"] == "rtgen-tokens-1"


def test_int8_quantizes_the_lstm_itself_and_reports_agreement(exported: dict) -> None:
    """--quantize int8 turns the LSTM into DynamicQuantizeLSTM and prints agreement and KL."""
    _, report, res = exported["lstm"]
    assert "DynamicQuantizeLSTM" in report["int8"]["ops"] and "LSTM" not in report["int8"]["ops"]
    assert "top-1 agreement" in res.stdout and "mean KL" in res.stdout
    assert 0.0 <= report["int8"]["top1_agreement"] <= 1.0 and report["int8"]["mean_kl"] >= 0


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_torchscript_export_warns_and_matches(kind: str, ckpts: dict, tmp_path: Path) -> None:
    """TorchScript works, says PyTorch deprecated it, and passes the same parity check."""
    out = tmp_path / "m.pt"
    res = rtgen("export", str(ckpts[kind]), "--format", "torchscript", "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr
    assert "deprecated" in res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["parity"]["max_abs_diff"] <= 1e-4


def test_transformer_session_rolls_back_past_the_wrap(ckpts: dict, exported: dict) -> None:
    """The ONNX session's rings are bound to the graph and refilled in place: a restored
    snapshot steps to the checkpoint's logits again, across the ring's wrap (window 16), and
    the logits a step returns are not overwritten by the next step."""
    tokens = heldout_tokens(48)
    ref = run_logits(open_session(ckpts["transformer"]), tokens)
    session = open_session(exported["transformer"][0], device="cpu")
    for t in tokens[:12]:
        session.step(int(t))
    snap = session.snapshot()
    for _ in range(2):
        session.restore(snap)
        got = np.stack([session.step(int(t)) for t in tokens[12:]])
        assert abs(got - ref[12:]).max() <= 1e-4


def test_transformer_graph_returns_one_slot_per_layer(exported: dict) -> None:
    """The step graph reads the rings and returns only the token's key and value per layer:
    no step copies or rewrites a ring (the session writes the slot)."""
    graph = onnx.load(str(exported["transformer"][0])).graph
    shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    cfg = SMALL["transformer"]
    one_slot = [1, cfg["heads"], 1, cfg["d_model"] // cfg["heads"]]
    layers = range(cfg["layers"])
    assert shapes == {
        "logits": [1, shapes["logits"][1]],
        **{f"{kv}_new_{i}": one_slot for kv in ("k", "v") for i in layers},
    }


def test_eval_onnx_and_checkpoint_agree(ckpts: dict, exported: dict) -> None:
    """rtgen eval gives the same NLL (within 0.1%) for a checkpoint and its ONNX export."""
    out = exported["lstm"][0]
    demo = str(Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "demo")
    a = json.loads(rtgen("eval", "--model", str(ckpts["lstm"]), demo, "--json").stdout)
    b = json.loads(rtgen("eval", "--model", str(out), demo, "--json").stdout)
    assert a["tokens"] == b["tokens"] > 1000
    assert abs(a["nll_bits_per_token"] - b["nll_bits_per_token"]) / a["nll_bits_per_token"] < 1e-3


NO_TORCH = (
    "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
    "from rtgen.cli import main; sys.argv = ['rtgen'] + sys.argv[1:]; main()\n"
)


def test_session_and_eval_run_where_torch_cannot_be_imported(exported: dict) -> None:
    """With torch unimportable, the ONNX session, rtgen info and rtgen eval still work."""
    out = exported["transformer"][0]
    demo = str(Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "demo")
    res = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "eval", "--model", str(out), demo, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["nll_bits_per_token"] > 0
    info = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "info", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0 and json.loads(info.stdout)["kind"] == "transformer"
    step = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['torch'] = None\n"
            "from rtgen.sessions import open_session\n"
            f"s = open_session({str(out)!r}); print(s.step(1).shape, 'torch' in sys.modules and "
            "sys.modules['torch'] is not None)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert step.returncode == 0 and step.stdout.split()[-1] == "False", step.stderr


def _one_line_error(res: subprocess.CompletedProcess, needle: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    """Missing file, ONNX without rtgen metadata, unknown vocabulary, unexportable kind: exit 2."""
    _one_line_error(rtgen("export", str(tmp_path / "nope.ckpt")), "no such file")
    plain = tmp_path / "plain.onnx"
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph), str(plain))
    _one_line_error(rtgen("info", str(plain)), "no rtgen metadata")
    _one_line_error(rtgen("eval", "--model", str(plain), str(tmp_path)), "no MIDI files")
    odd = tmp_path / "odd.onnx"
    model = onnx.load(str(plain))
    meta = {"format": "rtgen-ckpt-1", "kind": "lstm", "vocab": {"version": "rtgen-tokens-0"}}
    prop = model.metadata_props.add()
    prop.key, prop.value = "rtgen", json.dumps(meta)
    onnx.save(model, str(odd))
    _one_line_error(rtgen("info", str(odd)), "rtgen-tokens-0")
    gru = tmp_path / "gru.ckpt"
    torch.save(
        {
            "format": "rtgen-ckpt-1",
            "kind": "gru",
            "config": {},
            "vocab": {"version": "rtgen-tokens-1"},
            "state_dict": {},
        },
        gru,
    )
    _one_line_error(rtgen("export", str(gru)), "unknown model kind 'gru'")


ASSETS = Path(__file__).resolve().parents[2] / "rtgen" / "assets"


def test_export_refuses_what_is_not_a_checkpoint_by_its_suffix(tmp_path: Path) -> None:
    """ONNX, MIDI and text files: "takes a checkpoint", never "pickled code" or "(101)"."""
    text = tmp_path / "t.txt"
    text.write_text("hello\n")
    demo = sorted((ASSETS / "demo").glob("*.mid"))[0]
    for path in (text, demo):
        res = rtgen("export", str(path))
        _one_line_error(res, "rtgen export takes a checkpoint (.ckpt) from training")
        assert "pickled" not in res.stderr
    _one_line_error(rtgen("export", str(ASSETS / "default.onnx")), "already an exported ONNX")


@pytest.mark.parametrize("opset", ["3", "17", "999"])
def test_export_refuses_opsets_it_cannot_write(ckpts: dict, tmp_path: Path, opset: str) -> None:
    """--opset 3 used to exit 0 with an opset-18 file after an onnxscript traceback."""
    out = tmp_path / "m.onnx"
    res = rtgen("export", str(ckpts["lstm"]), "-o", str(out), "--opset", opset)
    _one_line_error(res, f"--opset {opset}: rtgen exports opsets 18 to ")
    assert not out.exists()


def test_export_checks_the_output_folder_first(ckpts: dict, tmp_path: Path) -> None:
    """A missing folder or a folder as output: one line, not the exporter's traceback."""
    missing = tmp_path / "nonexistdir" / "m.onnx"
    _one_line_error(rtgen("export", str(ckpts["lstm"]), "-o", str(missing)), "no such folder")
    _one_line_error(rtgen("export", str(ckpts["lstm"]), "-o", str(tmp_path)), "is a folder")


def test_export_does_not_print_the_exporters_log_chatter(exported: dict) -> None:
    """ "torchvision is not installed. Skipping torchvision::nms" is not for users."""
    for _, _, res in exported.values():
        assert "torchvision" not in res.stderr, res.stderr


def test_the_recipes_full_size_transformer_exports(tmp_path: Path) -> None:
    """configs/transformer.toml's model, untrained (logits up to a few hundred), passes the
    export's parity rule: 1e-4 absolute was a few float32 ulps at that size, and refused it."""
    import tomllib

    from rtgen.models.checkpoint import build_model, describe, save_checkpoint

    recipe = Path(__file__).resolve().parents[2] / "configs" / "transformer.toml"
    values = dict(tomllib.loads(recipe.read_text())["model"])
    values.pop("kind")
    torch.manual_seed(0)
    model = build_model("transformer", values)
    ckpt = tmp_path / "t.ckpt"
    save_checkpoint(ckpt, model, describe(model, {"source": "test"}, {"valid": 5.0}))
    res = rtgen("export", str(ckpt), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])["parity"]
    assert report["max_excess"] <= 1e-4 and report["top1_agreement"] == 1.0, report


def test_parity_rule_scales_with_the_logit() -> None:
    """1e-4 + 1e-5 x |logit|: 2e-4 off a logit of 200 passes, off a logit of 1 fails."""
    from rtgen.export.verify import compare, fp32_matches

    ref = np.array([[200.0, 1.0, -3.0]])
    assert fp32_matches(compare(ref, ref + np.array([[2e-4, 0.0, 0.0]])))
    assert not fp32_matches(compare(ref, ref + np.array([[0.0, 2e-4, 0.0]])))
    assert fp32_matches(compare(ref, ref + np.array([[0.0, 5e-5, 0.0]])))
