"""The calibration store (latency.json) and the probe matching of `rtgen calibrate`, without
ports: a fake clock and a fake loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rtgen import calibrate as cal
from rtgen.errors import RtgenError


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RTGEN_CONFIG_DIR", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def _result(latency: float = 25.0, out: str = "Synth:in") -> cal.Calibration:
    device = [latency + 1.0 + d for d in (-0.2, -0.1, 0.0, 0.1, 0.2)]
    return cal.Calibration(out, "Synth:thru", "jack", device, [1.0] * 5, 5)


def test_path_honours_rtgen_config_dir_then_xdg_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RTGEN_CONFIG_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cal.calibration_path() == tmp_path / "own" / "latency.json"
    monkeypatch.delenv("RTGEN_CONFIG_DIR")
    assert cal.calibration_path() == tmp_path / "xdg" / "rtgen" / "latency.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cal.calibration_path() == tmp_path / "home" / ".config" / "rtgen" / "latency.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert cal.calibration_path() == tmp_path / "home" / ".config" / "rtgen" / "latency.json"


def test_store_round_trip_keeps_other_ports(config_dir: Path) -> None:
    assert cal.stored_latency("Synth:in") is None  # no file yet
    path = cal.store_latency("Synth:in", _result(25.04))
    cal.store_latency("Other:in", _result(7.0, "Other:in"))
    assert path == config_dir / "latency.json"
    assert cal.stored_latency("Synth:in") == 25.0
    assert cal.stored_latency("Other:in") == 7.0
    assert cal.stored_latency("Missing:in") is None
    entry = json.loads(path.read_text())["Synth:in"]
    assert entry["via"] == "Synth:thru" and entry["probes"] == 5
    assert entry["spread_ms"] == pytest.approx(0.32)
    assert entry["measured"][:4].isdigit()  # an ISO date
    cal.store_latency("Synth:in", _result(30.0))  # a new measurement replaces the old
    assert cal.stored_latency("Synth:in") == 30.0
    assert cal.forget_latency("synth") == "Synth:in"
    assert cal.stored_latency("Synth:in") is None and cal.stored_latency("Other:in") == 7.0


def test_alsa_client_numbers_need_not_agree(config_dir: Path) -> None:
    cal.store_latency("FLUID Synth:Synth input port 128:0", _result(12.0))
    assert cal.stored_latency("FLUID Synth:Synth input port 130:0") == 12.0


@pytest.mark.parametrize(
    "text",
    ["{not json", "[1, 2]", '{"Synth:in": 5}', '{"Synth:in": {"latency_ms": "25"}}',
     '{"Synth:in": {"latency_ms": NaN}}', '{"Synth:in": {"latency_ms": 900}}',
     '{"Synth:in": {"latency_ms": -3}}', '{"Synth:in": {"latency_ms": true}}', "\udcff"],
)  # fmt: skip
def test_corrupt_or_unusable_is_none_never_an_exception(config_dir: Path, text: str) -> None:
    config_dir.mkdir()
    (config_dir / "latency.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert cal.stored_latency("Synth:in") is None


def test_unreadable_file_is_none(config_dir: Path) -> None:
    (config_dir / "latency.json").mkdir(parents=True)  # a folder where the file should be
    assert cal.stored_latency("Synth:in") is None
    with pytest.raises(RtgenError):
        cal.load_entries()


def test_corrupt_file_is_replaced_on_store_and_one_line_on_show(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "latency.json").write_text("{oops")
    with pytest.raises(RtgenError, match="not valid JSON"):
        cal.load_entries()
    cal.store_latency("Synth:in", _result())
    assert cal.stored_latency("Synth:in") == 25.0


def test_write_is_atomic(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way leaves the old file whole and no temporary file."""
    cal.store_latency("Synth:in", _result(25.0))
    before = (config_dir / "latency.json").read_text()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(RtgenError, match="disk full"):
        cal.store_latency("Synth:in", _result(40.0))
    assert (config_dir / "latency.json").read_text() == before
    assert [p.name for p in config_dir.iterdir()] == ["latency.json"]


def test_entry_is_clamped_to_what_latency_ms_accepts() -> None:
    assert _result(-2.0).entry()["latency_ms"] == 0.0
    assert _result(800.0).entry()["latency_ms"] == 500.0


def test_summary_line() -> None:
    line = _result(25.0).summary()
    assert line == "latency 25.0 ms (spread p10-p90 24.8-25.2 ms, 5 probes, transport 1.0 ms)"


class FakeLoop:
    """A fake clock and a loopback that echoes each note-on ``delay_ns`` later (or never)."""

    def __init__(self, delay_ns: int | None, lose: set[int] = frozenset()) -> None:
        self.now, self.delay_ns, self.lose = 0, delay_ns, lose
        self.queue: list[tuple[tuple[int, ...], int]] = []
        self.sent: list[tuple[int, int, int]] = []

    def clock(self) -> int:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += max(1, round(s * 1e9))

    def send(self, message: tuple[int, int, int]) -> None:
        self.sent.append(message)
        if self.delay_ns is not None and message[1] not in self.lose:
            self.queue.append((message, self.now + self.delay_ns))

    def poll(self) -> list[tuple[tuple[int, ...], int]]:
        due = [e for e in self.queue if e[1] <= self.now]
        self.queue = [e for e in self.queue if e[1] > self.now]
        return due


def test_round_trips_match_by_pitch_and_count_the_lost() -> None:
    loop = FakeLoop(300_000_000, lose={3})  # 300 ms: echoes come after later probes go out
    trips = cal.round_trips(loop.send, loop.poll, 8, clock_ns=loop.clock, sleep=loop.sleep)
    assert trips[3] is None
    assert all(t == pytest.approx(300.0, abs=0.01) for i, t in enumerate(trips) if i != 3)
    ons = [m for m in loop.sent if m[0] == 0x9F]
    assert [m[1] for m in ons] == list(range(8)) and all(m[2] == 1 for m in ons)
    assert {m[1] for m in loop.sent if m[0] == 0x8F} == set(range(8))


def test_round_trips_give_up_early_when_nothing_comes_back() -> None:
    loop = FakeLoop(None)
    trips = cal.round_trips(loop.send, loop.poll, 100, clock_ns=loop.clock, sleep=loop.sleep)
    assert trips == [None] * 100
    assert len([m for m in loop.sent if m[0] == 0x9F]) < 15
    assert loop.now < 4e9


def test_dither_spreads_over_the_window() -> None:
    steps = sorted(cal.probe_dither_s(k) for k in range(24))
    assert steps[0] == 0 and steps[-1] < cal.DITHER_S
    assert max(b - a for a, b in zip(steps, steps[1:])) < cal.DITHER_S / 10
