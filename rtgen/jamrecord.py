"""What `rtgen play` writes down: the session log's header (``--log``) and the MIDI file of
the jam (``--record``)."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime, timezone
from pathlib import Path

from rtgen import __version__
from rtgen.config import PlaySettings
from rtgen.engine.build import sent_to_notes
from rtgen.engine.clock import BeatTimeline
from rtgen.events import Note, Role
from rtgen.midi import Message
from rtgen.replay import bar_aligned, sha256_of


def log_header(settings: PlaySettings, seed: int, model: Path | None, origin_ns: int) -> dict:
    """The session log's first record (after its format tag): what replay needs."""
    path = Path(model or "")
    return {
        "rtgen": __version__,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "settings": dataclasses.asdict(settings),
        "model": str(path.resolve()),
        "model_sha256": sha256_of(path) if path.is_file() else "",
        "origin_ns": origin_ns,
        "clock": settings.clock,
    }


def write_record(
    path: Path,
    player: list[Note],
    sent: list[tuple[int, Message]],
    timeline: BeatTimeline,
    channel: int,
    settings: PlaySettings,
) -> None:
    """The player's notes and the model's (from what was sent on ``channel``) as one MIDI
    file, the bar of the first note as bar 0; one line on stderr says so."""
    from rtgen.io.midifile import write_midi

    model = sent_to_notes(sent, timeline.beat_at, Role.MODEL, channel)
    notes = bar_aligned(player, model, settings.beats_per_bar)
    write_midi(notes, path, bpm=timeline.bpm or settings.bpm)
    print(
        f"rtgen: recorded {len(player)} player and {len(model)} model notes to {path}",
        file=sys.stderr,
    )
