"""`rtgen play --memory FILE --log` then `rtgen replay`: the log's header holds the memory as
the jam loaded it, so the replay plays the same notes after the file was overwritten."""

from __future__ import annotations

from pathlib import Path

from rtgen.assets import default_model
from rtgen.bench.stalls import MachineStalls
from rtgen.config import PlaySettings
from rtgen.engine.memory import Memory
from rtgen.engine.portproto import FakeOutputPort
from rtgen.live import LiveJam
from rtgen.memoryfile import load_memory
from rtgen.replay import bar_aligned, replay
from rtgen.sessions import open_session
from tests.reliability.test_replay import ScriptedInput, _compare


def test_replay_starts_from_the_memory_the_jam_loaded(tmp_path: Path) -> None:
    """A memory of two phrases is loaded, the jam teaches it a call and saves it over the
    file; the replay still plays exactly the model notes the jam sent."""
    mem_path = tmp_path / "me.json"
    before = Memory()
    before.learn([60, 64, 67, 72, 67, 64], [3, 3, 6, 3, 3])
    before.learn([62, 60, 59, 55], [6, 6, 12])
    before.save(mem_path)
    script = []
    for i, pitch in enumerate([60, 62, 64, 65, 67, 65, 64, 62]):
        script += [(0.1 + 0.25 * i, [0x90, pitch, 90]), (0.3 + 0.25 * i, [0x80, pitch, 0])]
    settings = PlaySettings(bpm=240.0, seed=7, memory_file=str(mem_path)).validate()
    log, record = tmp_path / "s.jsonl", tmp_path / "s.mid"
    jam = LiveJam(
        settings, open_session(default_model(), "cpu"), ScriptedInput(script),
        FakeOutputPort("synth"), 7, record=record, log_path=log,
        memory=load_memory(settings.memory_file),
    )  # fmt: skip
    with MachineStalls() as stalls:
        assert jam.run(seconds=5.0) == 0
    after = Memory.load(mem_path)
    assert len(after.phrases) == 3 and after.phrases[:2] == before.phrases  # it learned the call
    res = replay(log)
    aligned = bar_aligned(res.player, res.model, settings.beats_per_bar)
    live, _, wrong, _ = _compare(log, record, aligned, stalls)
    assert live and not wrong, wrong
