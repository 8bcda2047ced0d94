"""`rtgen panic`: silence a synth that was left with hanging notes.

Sends a note-off for every pitch on every channel, then sustain off (CC64=0) and all notes
off (CC123) per channel; ``--hard`` adds all sound off (CC120). ``rtgen play`` does this
itself for the notes it knows of on every exit path it can see; this command is for the one
it cannot: a systemd unit runs it as ExecStopPost after a SIGKILL.

    rtgen panic --out "FLUID Synth"
    rtgen panic --out Synth --channel 1 --channel 10 --hard
"""

from __future__ import annotations

import time

import typer

from rtgen.commands.choices import MidiApi, api_option
from rtgen.engine.ledger import channel_resets
from rtgen.engine.portproto import OutputPort
from rtgen.errors import RtgenError
from rtgen.midi import Message, note_off

# At most BURST messages, then a pause: 2,000 messages at once would overrun small MIDI
# buffers (JACK1, DIN hardware through ALSA) and slow receivers; ~70 ms for a full panic.
BURST = 64
PAUSE_S = 0.002


def panic_messages(channels: list[int], hard: bool = False) -> list[Message]:
    """Note-offs for all 128 pitches on each channel (0-based), then per channel CC64=0 and
    CC123, and CC120 when ``hard``."""
    offs = [note_off(channel, pitch) for channel in channels for pitch in range(128)]
    return offs + channel_resets(channels, hard)


def send_paced(port: OutputPort, messages: list[Message]) -> None:
    """Send in bursts of BURST messages with PAUSE_S between them."""
    for start in range(0, len(messages), BURST):
        if start:
            time.sleep(PAUSE_S)
        for message in messages[start : start + BURST]:
            port.send(message)


def panic(
    out: str = typer.Option(
        ..., "--out", help="Output port: any unique part of its name, or a regex."
    ),
    api: MidiApi | None = api_option(),
    hard: bool = typer.Option(
        False, "--hard", help="Also send CC120 (all sound off: cuts release tails and reverb)."
    ),
    channel: list[int] | None = typer.Option(
        None,
        "--channel",
        "-c",
        help="Only this channel (1-16); repeat for more. Default: all 16.",
    ),
) -> None:
    """Silence a synth: a note-off for every pitch, then CC64=0 and CC123, on every channel.

    For notes left hanging by a process that could not clean up (kill -9, a crash);
    a systemd unit runs it as ExecStopPost. Prints one line saying what it sent.
    """
    chosen = sorted(set(channel)) if channel else list(range(1, 17))
    bad = [n for n in chosen if not 1 <= n <= 16]
    if bad:
        raise RtgenError(f"--channel must be 1..16, not {bad[0]}")
    from rtgen.io import ports  # rtmidi loads only when a command needs it

    messages = panic_messages([n - 1 for n in chosen], hard)
    with ports.open_output(out, api.value if api is not None else None) as port:
        send_paced(port, messages)
        name = port.name
    # close() flushed: everything above reached the port before it closed.
    ccs = "CC64=0, CC123 and CC120" if hard else "CC64=0 and CC123"
    where = "all 16 channels" if len(chosen) == 16 else f"channels {_ranges(chosen)}"
    typer.echo(
        f"rtgen panic: sent {128 * len(chosen)} note-offs, then {ccs} on {where}, "
        f"to '{name}' ({len(messages)} messages)"
    )


def _ranges(numbers: list[int]) -> str:
    """'1-3,10' for [1, 2, 3, 10] (sorted, unique)."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(parts)


def register(app: typer.Typer) -> None:
    """Add the `panic` command to the rtgen app."""
    app.command("panic")(panic)
