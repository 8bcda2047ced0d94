"""Model files are data, presets are checked, values are checked, and no network port opens.

Every bad input goes through the real `rtgen play` and must give one line on stderr and exit
code 2, before any MIDI port is touched. No long version: these are the same either way.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.play import RTGEN, Rig

DEFAULT = Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "default.onnx"


def _onnx_with_meta(path: Path, change: Callable[[dict], object]) -> Path:
    """A copy of the bundled model whose rtgen metadata is ``change(meta)`` (JSON unless a
    string; None drops the metadata)."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(DEFAULT))
    entry = next(p for p in model.metadata_props if p.key == "rtgen")
    value = change(json.loads(entry.value))
    if value is None:
        model.metadata_props.remove(entry)
    else:
        entry.value = value if isinstance(value, str) else json.dumps(value)
    onnx.save(model, str(path))
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 64)
    return path


def _truncated(path: Path) -> Path:
    data = DEFAULT.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _vocab(meta: dict) -> dict:
    meta["vocab"]["version"] = "rtgen-tokens-0"
    return meta


def _kind(meta: dict) -> dict:
    meta["kind"] = "gru"
    return meta


def _no_layers(meta: dict) -> dict:
    del meta["config"]["layers"]
    return meta


def _hidden_text(meta: dict) -> dict:
    meta["config"]["hidden"] = "320"
    return meta


def _hidden_mismatch(meta: dict) -> dict:
    meta["config"]["hidden"] = 999  # the graph's state is 320 wide
    return meta


MODELS = {
    "garbage bytes": (_garbage, "not a readable ONNX model"),
    "truncated ONNX": (_truncated, "not a readable ONNX model"),
    "no metadata": (lambda p: _onnx_with_meta(p, lambda m: None), "no rtgen metadata"),
    "other vocabulary": (lambda p: _onnx_with_meta(p, _vocab), "vocabulary"),
    "metadata not JSON": (lambda p: _onnx_with_meta(p, lambda m: "{oops"), "metadata"),
    "unknown model kind": (lambda p: _onnx_with_meta(p, _kind), "model kind 'gru'"),
    "metadata a list": (lambda p: _onnx_with_meta(p, lambda m: [m]), "no rtgen metadata"),
    "config key missing": (lambda p: _onnx_with_meta(p, _no_layers), "config.layers"),
    "config value a string": (lambda p: _onnx_with_meta(p, _hidden_text), "config.hidden"),
    "metadata vs graph": (lambda p: _onnx_with_meta(p, _hidden_mismatch), "metadata says"),
}


def _play(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*RTGEN, "play", "--api", "jack", "--in", "Keyboard", "--out", "Synth", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JACK_NO_START_SERVER": "1"},
    )


def _one_line_exit_2(res: subprocess.CompletedProcess, needle: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("rtgen: error:"), res.stderr
    assert needle in lines[0], res.stderr
    return lines[0]


@pytest.mark.parametrize("case", list(MODELS))
def test_bad_model_file_is_a_one_line_error(tmp_path: Path, case: str) -> None:
    """A corrupt ONNX file or one with missing, foreign or malformed metadata is refused
    by `rtgen play` with one line and exit code 2."""
    make, needle = MODELS[case]
    line = _one_line_exit_2(_play("--model", str(make(tmp_path / "m.onnx"))), needle)
    print(f"\n{case}: exit 2: {line}")


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).touch, ())


def test_checkpoint_with_pickled_code_never_runs(tmp_path: Path) -> None:
    """A checkpoint carrying a pickled payload is refused (one line, exit 2) and the payload
    never executes: its marker file is not created (while unpickling it does create it)."""
    torch = pytest.importorskip("torch")
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "rtgen-ckpt-1", "x": _Payload(str(marker))}, evil)
    line = _one_line_exit_2(_play("--model", str(evil)), "pickled")
    ran = marker.exists()
    pickle.loads(pickle.dumps(_Payload(str(tmp_path / "control"))))
    print(f"\npickled checkpoint: exit 2: {line}; payload ran: {ran}")
    assert not ran
    assert (tmp_path / "control").exists()  # the payload is real: unpickled, it runs


PRESETS = {
    "unknown key": ('mode = "duet"\ntempo = 100\n', "unknown key 'tempo'"),
    "wrong type": ('bpm = "fast"\n', "bpm must be float"),
    "not TOML": ("bpm = = 3\n", "not valid TOML"),
    "unknown cc action": ("[cc]\nexplode = 20\n", "unknown action 'explode'"),
}


@pytest.mark.parametrize("case", list(PRESETS))
def test_bad_preset_is_a_one_line_error(tmp_path: Path, case: str) -> None:
    """A preset with an unknown key, a wrong type, broken TOML or an unknown CC action is
    one line naming the problem, exit code 2."""
    text, needle = PRESETS[case]
    preset = tmp_path / "p.toml"
    preset.write_text(text)
    line = _one_line_exit_2(_play("--config", str(preset)), needle)
    print(f"\npreset, {case}: exit 2: {line}")


def test_binary_preset_is_a_one_line_error(tmp_path: Path) -> None:
    """A MIDI file given as --config is refused as not a TOML preset, not a traceback."""
    preset = tmp_path / "p.toml"
    preset.write_bytes(bytes([0x4D, 0x54, 0x68, 0x64, 0xE0, 0xFF, 0x00]))
    _one_line_exit_2(_play("--config", str(preset)), "not a TOML preset")


VALUES = {
    "--bpm 0": (["--bpm", "0"], "--bpm"),
    "--bpm nan": (["--bpm", "nan"], "--bpm"),
    "--out-channel 17": (["--out-channel", "17"], "--out-channel must be 1..16"),
    "--range 80-40": (["--range", "80-40"], "--range 80-40"),
    "--temperature -1": (["--temperature", "-1"], "--temperature"),
    "--seconds nan": (["--seconds", "nan"], "--seconds must be > 0"),
    "--seconds 0": (["--seconds", "0"], "--seconds must be > 0"),
    "--send-ahead 50": (["--send-ahead", "50"], "--send-ahead"),
    "--virtual with --in/--out": (["--virtual"], "without --in/--out"),
    "--record into a missing folder": (["--record", "/no-such-dir/x.mid"], "does not exist"),
}


@pytest.mark.parametrize("case", list(VALUES))
def test_invalid_value_is_a_one_line_error(case: str) -> None:
    """Values a musician might mistype are refused before any port opens: one line, exit 2."""
    flags, needle = VALUES[case]
    line = _one_line_exit_2(_play(*flags), needle)
    print(f"\n{case}: exit 2: {line}")


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _table_inodes(pid: int, name: str, column: int) -> set[int]:
    path = Path(f"/proc/{pid}/net/{name}")
    if not path.exists():
        return set()
    rows = [line.split() for line in path.read_text().splitlines()[1:]]
    return {int(r[column]) for r in rows if len(r) > column and r[column].isdigit()}


def test_rtgen_opens_no_network_socket(rig: Rig) -> None:
    """While `rtgen play` runs, none of its sockets is TCP, UDP or raw (JACK talks over
    Unix sockets): rtgen opens no network port."""
    proc = rig.start("--seed", "1")
    rig.kbd.play([60, 64], 0.25)
    sockets = _socket_inodes(proc.pid)
    inet = set()
    for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6"):
        inet |= _table_inodes(proc.pid, name, 9)
    unix = _table_inodes(proc.pid, "unix", 6)
    code, _ = proc.stop()
    print(
        f"\nnetwork: {len(sockets)} sockets open, {len(sockets & unix)} Unix, "
        f"{len(sockets & inet)} TCP/UDP/raw"
    )
    assert code == 0
    assert sockets and not sockets & inet
    assert sockets <= unix
