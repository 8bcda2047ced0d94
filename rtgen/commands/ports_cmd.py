"""`rtgen ports`: list the MIDI inputs and outputs that rtgen can see."""

from __future__ import annotations

import json

import typer

from rtgen.commands.choices import MidiApi, api_option


def ports(
    api: MidiApi | None = api_option(
        "MIDI API to ask. Default: the first that works, ALSA before JACK on Linux."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print one JSON object: {"api", "compiled_apis", "inputs", "outputs"}.',
    ),
) -> None:
    """List MIDI inputs and outputs, and the MIDI APIs compiled into python-rtmidi.

    Inputs are ports rtgen listens to (a keyboard); outputs are ports it plays to (a synth).

    Pick a port by any unique part of its name (or a regex), never by number.
    """
    from rtgen.io import ports as midi_ports  # rtmidi loads only when a command needs it

    found = midi_ports.list_ports(api.value if api is not None else None)
    compiled = midi_ports.compiled_apis()
    if as_json:
        payload = {
            "api": found["api"],
            "compiled_apis": compiled,
            "inputs": found["inputs"],
            "outputs": found["outputs"],
        }
        typer.echo(json.dumps(payload))
        return
    typer.echo(f"MIDI API: {found['api']} (compiled in: {', '.join(compiled)})")
    for kind in ("inputs", "outputs"):
        names = found[kind]
        typer.echo(f"{kind} ({len(names)}):")
        for name in names or ["(none)"]:
            typer.echo(f"  {name}")


def register(app: typer.Typer) -> None:
    """Add the `ports` command to the rtgen app."""
    app.command("ports")(ports)
