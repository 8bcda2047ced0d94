"""MIDI ports: listing, matching by name, opening. With ``ports_rtmidi``, the only rtmidi user.

    list_ports(api)                              -> {"api", "inputs", "outputs"}
    open_output(pattern, api, virtual=False)     -> MidiOutput (the engine's OutputPort)
    open_input(pattern, api, virtual=False)      -> MidiInput (poll() / get(timeout))

Ports are chosen by name (substring, or regex when the substring finds nothing), never by
number. Every rtmidi object made here is ``.delete()``d when done: a client left behind stays
visible to other programs (on JACK the next client of the same name gets a ``-01`` suffix).
The port classes live in :mod:`rtgen.io.ports_rtmidi` (imported when a port is opened).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import rtmidi

from rtgen.errors import RtgenError

if TYPE_CHECKING:
    from rtgen.io.ports_rtmidi import MidiInput, MidiOutput

#: User-facing API names -> rtmidi API constants.
API_NAMES: dict[str, int] = {
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}

# Tried in this order when no API is named: the platform's own API first, JACK last.
_DEFAULT_ORDER = ("alsa", "coremidi", "winmm", "jack")

_CLIENT_NAME = "rtgen"


def compiled_apis() -> list[str]:
    """Names of the MIDI APIs compiled into python-rtmidi (e.g. ``['alsa', 'jack']``)."""
    by_const = {const: name for name, const in API_NAMES.items()}
    return [by_const[a] for a in rtmidi.get_compiled_api() if a in by_const]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (ALSA and libjack print errors there) for a short probe."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _reason(exc: Exception) -> str:
    """rtmidi's message without its C++ prefix ('MidiInJack::initialize: ')."""
    text = str(exc).strip().rstrip(".")
    return re.sub(r"^\w+::\w+:\s*", "", text) or type(exc).__name__


def _probe(api: str) -> dict:
    """List the ports of one API; raises rtmidi.RtMidiError if no client can be made."""
    # Never let libjack autostart a server (rtmidi already asks for JackNoStartServer;
    # this also covers a ~/.jackdrc). Inherited by child processes, which is intended.
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    midi_in = midi_out = None
    with _quiet_stderr():
        try:
            midi_in = rtmidi.MidiIn(rtapi=API_NAMES[api], name=_CLIENT_NAME)
            midi_out = rtmidi.MidiOut(rtapi=API_NAMES[api], name=_CLIENT_NAME)
            return {"api": api, "inputs": midi_in.get_ports(), "outputs": midi_out.get_ports()}
        finally:
            for obj in (midi_in, midi_out):
                if obj is not None:
                    obj.delete()


def candidate_apis(api: str | None) -> list[str]:
    """The APIs to try, in order: ``[api]`` when one is named, else every compiled-in one.

    Raises RtgenError for an unknown API or one that is not compiled into python-rtmidi.
    """
    compiled = compiled_apis()
    if api is not None:
        if api not in API_NAMES:
            raise RtgenError(f"unknown MIDI API {api!r}; choose one of: {', '.join(API_NAMES)}")
        if api not in compiled:
            raise RtgenError(
                f"MIDI API {api!r} is not compiled into python-rtmidi; "
                f"compiled in: {', '.join(compiled) or 'none'}"
            )
        return [api]
    candidates = [name for name in _DEFAULT_ORDER if name in compiled]
    if not candidates:
        raise RtgenError("python-rtmidi has no MIDI API compiled in")
    return candidates


def no_usable_api(
    api: str | None, candidates: list[str], failures: list[tuple[str, str]]
) -> RtgenError:
    """The one-line error for "no candidate API could make a client"; ``failures`` holds
    ``(api, reason)`` pairs."""
    if api is not None:
        return RtgenError(f"MIDI API {api!r} is not usable: {failures[0][1]}")
    hint = " (start a JACK server, or choose an API with --api)" if "jack" in candidates else ""
    tried = "; ".join(f"{name}: {reason}" for name, reason in failures)
    return RtgenError(f"no usable MIDI API; tried {tried}{hint}")


def list_ports(api: str | None = None) -> dict:
    """``{"api": name, "inputs": [...], "outputs": [...]}`` for ``api``, or the first usable one.

    Inputs are ports we can read from (other clients' outputs), outputs ports we can send to.
    With no ``api``, the compiled APIs are tried in the order alsa, coremidi, winmm, jack, so a
    Linux box without an ALSA sequencer (no /dev/snd) falls back to a running JACK server.
    """
    candidates = candidate_apis(api)
    failures = []
    for name in candidates:
        try:
            return _probe(name)
        except rtmidi.RtMidiError as exc:
            failures.append((name, _reason(exc)))
    raise no_usable_api(api, candidates, failures)


def open_output(
    pattern: str | None,
    api: str | None,
    virtual: bool = False,
    client_name: str = "rtgen",
    virtual_name: str = "rtgen out",
    waiting: Callable[[], None] | None = None,
) -> MidiOutput:
    """Connect to the one output port ``pattern`` names, or (``virtual``) create one.

    A virtual port (``client_name:virtual_name``) is one a DAW or synth connects to; the
    pattern is then ignored. No match, or several, is an RtgenError listing the outputs;
    with ``waiting``, no match is waited out (``waiting()`` at each look that finds none).
    See :class:`rtgen.io.ports_rtmidi.MidiOutput` for sending, hot-plug and closing.
    """
    from rtgen.io.ports_rtmidi import MidiOutput

    return MidiOutput(pattern, api, virtual, client_name, virtual_name, waiting=waiting)


def open_input(
    pattern: str | None,
    api: str | None,
    virtual: bool = False,
    client_name: str = "rtgen",
    virtual_name: str = "rtgen in",
    queue_size: int = 4096,
    waiting: Callable[[], None] | None = None,
) -> MidiInput:
    """Listen to the one input port ``pattern`` names, or (``virtual``) create one.

    Messages (MIDI clock included; SysEx and active sensing ignored) are queued with their
    ``time.perf_counter_ns()`` arrival time; at most ``queue_size`` are kept, the oldest are
    dropped first. ``waiting``: as open_output's. See :class:`rtgen.io.ports_rtmidi.MidiInput`
    for ``poll``/``get``.
    """
    from rtgen.io.ports_rtmidi import MidiInput

    return MidiInput(pattern, api, virtual, client_name, virtual_name, queue_size, waiting=waiting)


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _hits(pattern: str, names: list[str]) -> list[int]:
    """Indices of the names ``pattern`` picks: exact (any case), else substring, else regex."""
    needle = pattern.casefold()
    hits = [i for i, n in enumerate(names) if n.casefold() == needle]
    if not hits:
        hits = [i for i, n in enumerate(names) if needle in n.casefold()]
    if not hits:
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error:
            regex = None
        if regex is not None:
            hits = [i for i, n in enumerate(names) if regex.search(n)]
    return hits


class NoSuchPortError(RtgenError):
    """No port matches the name (yet): one that may still appear, which a wait for the
    port waits on; a name that matches several ports is a plain RtgenError."""


def match_port(pattern: str, names: list[str], kind: str, own: list[str] | None = None) -> int:
    """Index in ``names`` of the one port that ``pattern`` names; ``kind`` is input/output.

    Rules, in order: a port whose whole name equals the pattern (ignoring case) wins; else
    the pattern is a case-insensitive substring; if no name contains it and it is a valid
    regex, ``re.search`` (ignoring case) is used. Exactly one port must match; none raises
    NoSuchPortError, several RtgenError, each with a one-line message listing the ports.
    ``own`` are this process's own outputs, listed among the inputs but left out of
    ``names``: when only they match, the message says so. Pure: no rtmidi calls.
    """
    if not pattern:
        raise RtgenError(f"empty MIDI {kind} name; {kind}s: {_quoted(names) or 'none'}")
    hits = _hits(pattern, names)
    if len(hits) == 1:
        return hits[0]
    if not hits:
        other = " other" if own else ""
        listing = f"{kind}s: {_quoted(names)}" if names else f"there are no{other} MIDI {kind}s"
        if own and _hits(pattern, own):
            raise NoSuchPortError(
                f"no MIDI {kind} matches {pattern!r} but this rtgen's own output, which it "
                f"never listens to; {listing}"
            )
        raise NoSuchPortError(f"no MIDI {kind} matches {pattern!r}; {listing}")
    raise RtgenError(
        f"{pattern!r} matches {len(hits)} MIDI {kind}s: {_quoted([names[i] for i in hits])}; "
        "give more of the name"
    )
