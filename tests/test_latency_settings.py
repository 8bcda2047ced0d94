"""`--latency-ms N` (``latency_ms``): the synth sounds N ms late, so rtgen sends everything
N ms early, on top of the port's own send-ahead, and plans each beat N ms earlier too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from rtgen import cli
from rtgen.commands import play_cmd
from rtgen.config import PlaySettings, load_preset
from rtgen.errors import RtgenError
from rtgen.live import send_ahead_ns


def test_default_is_zero_and_changes_nothing() -> None:
    settings = PlaySettings().validate()
    assert settings.latency_ms == 0.0
    assert send_ahead_ns(settings, SimpleNamespace(api="alsa")) == 0


@pytest.mark.parametrize("send_ahead", [-1.0, 0.0, 0.5])
def test_latency_adds_to_the_ports_send_ahead(send_ahead: float) -> None:
    port = SimpleNamespace(api="alsa")
    base = send_ahead_ns(PlaySettings(send_ahead_ms=send_ahead).validate(), port)
    late = PlaySettings(send_ahead_ms=send_ahead, latency_ms=37.5).validate()
    assert send_ahead_ns(late, port) == base + 37_500_000


@pytest.mark.parametrize("value", [-1.0, 500.01, float("nan"), float("inf")])
def test_out_of_range_latency_is_refused(value: float) -> None:
    with pytest.raises(RtgenError, match="--latency-ms"):
        PlaySettings(latency_ms=value).validate()


def test_the_ends_of_the_range_are_allowed() -> None:
    assert PlaySettings(latency_ms=500).validate().latency_ms == 500.0
    assert PlaySettings(latency_ms=0).validate().latency_ms == 0.0


def test_preset_key(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text("latency_ms = 25\n")
    assert load_preset(p) == {"latency_ms": 25.0}
    p.write_text("latency_ms = 900\n")
    with pytest.raises(RtgenError, match=r"latency_ms \(--latency-ms\)"):
        load_preset(p)


def test_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def fake_start(settings: PlaySettings, *args: object) -> None:
        seen.append(settings.latency_ms)
        raise RtgenError("stop here")

    monkeypatch.setattr(play_cmd, "_start", fake_start)
    runner = CliRunner()
    runner.invoke(cli.app, ["play", "--in", "x", "--out", "y", "--latency-ms", "12.5"])
    assert seen == [12.5]
    bad = runner.invoke(cli.app, ["play", "--in", "x", "--out", "y", "--latency-ms", "-3"])
    assert isinstance(bad.exception, RtgenError) and "--latency-ms" in str(bad.exception)


def test_each_beat_is_planned_that_much_earlier() -> None:
    from rtgen.engine.build import engine_config
    from rtgen.engine.offline import OfflineRig
    from tests.engine.fakes import FakeSession

    deadlines = []
    for ms in (0.0, 40.0):
        cfg = engine_config(PlaySettings(latency_ms=ms).validate(), 0)
        deadlines.append(OfflineRig(cfg, FakeSession(0)).engine.plan_deadline(3))
    assert deadlines[0] - deadlines[1] == 40_000_000
