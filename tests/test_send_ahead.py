"""How early `rtgen play` hands messages to its output port (rtgen.live.send_ahead_ns)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rtgen.config import PlaySettings
from rtgen.errors import RtgenError
from rtgen.live import send_ahead_ns


def test_an_explicit_send_ahead_is_used_on_any_api() -> None:
    settings = PlaySettings(send_ahead_ms=0.5).validate()
    assert send_ahead_ns(settings, SimpleNamespace(api="alsa")) == 500_000
    assert send_ahead_ns(PlaySettings(send_ahead_ms=0).validate(), object()) == 0


def test_auto_is_zero_off_jack() -> None:
    """ALSA and the others deliver at once: nothing to centre, so nothing sent early."""
    assert send_ahead_ns(PlaySettings().validate(), SimpleNamespace(api="alsa")) == 0


def test_auto_on_jack_is_half_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    import rtgen.io.jackperiod as jp

    monkeypatch.setattr(jp, "period_ns", lambda: 1_333_333)
    assert send_ahead_ns(PlaySettings().validate(), SimpleNamespace(api="jack")) == 666_666
    monkeypatch.setattr(jp, "period_ns", lambda: None)  # tools missing: do not guess
    assert send_ahead_ns(PlaySettings().validate(), SimpleNamespace(api="jack")) == 0


@pytest.mark.parametrize("value", [-2.0, 21.0, float("nan")])
def test_out_of_range_send_ahead_is_refused(value: float) -> None:
    with pytest.raises(RtgenError, match="--send-ahead"):
        PlaySettings(send_ahead_ms=value).validate()
