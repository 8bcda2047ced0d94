"""A test keyboard or synth as a process of its own, talked to through files.

For tests in which the JACK server goes away and comes back: a libjack whose server died
cannot reach the next one (rtgen/io/jackwatch.py), so the peers of such a test must be new
processes after the restart, and the test process itself must never open a JACK client.

    python -m tests.support.peerproc synth NAME DIR   # virtual input NAME:in
    python -m tests.support.peerproc kbd NAME DIR     # virtual output NAME:out

Both write DIR/NAME.ports (the other clients' ports as this one lists them, one a line,
rewritten every 50 ms: listed through a client that exists, never a jack_lsp). The synth
appends each message it gets to DIR/NAME.got as ``perf_counter_s byte byte ...`` lines
(``time.perf_counter`` is CLOCK_MONOTONIC: the same clock in every process). The keyboard
plays DIR/NAME.play (``beat_s pitch pitch ...``) once it appears, one note a beat, then
renames it to NAME.played. SIGTERM ends either.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import rtmidi


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(role: str, name: str, folder: str) -> None:
    out = Path(folder)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if role == "synth":
        rt = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=name)
        rt.ignore_types(sysex=True, timing=True, active_sense=True)
        rt.open_virtual_port("in")
    else:
        rt = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=name)
        rt.open_virtual_port("out")
    got = (out / f"{name}.got").open("a") if role == "synth" else None
    next_list = 0.0
    while not stop:
        now = time.perf_counter()
        if now >= next_list:
            _write(out / f"{name}.ports", "\n".join(rt.get_ports()) + "\n")
            next_list = now + 0.05
        if got is not None:
            while (msg := rt.get_message()) is not None:
                got.write(f"{time.perf_counter():.6f} {' '.join(map(str, msg[0]))}\n")
                got.flush()
            time.sleep(0.0005)
            continue
        play = out / f"{name}.play"
        if play.exists():
            beat_s, *pitches = play.read_text().split()
            for p in map(int, pitches):
                rt.send_message([0x90, p, 90])
                time.sleep(float(beat_s) * 0.9)
                rt.send_message([0x80, p, 0])
                time.sleep(float(beat_s) * 0.1)
            play.replace(out / f"{name}.played")
        time.sleep(0.005)
    rt.close_port()
    rt.delete()


if __name__ == "__main__":
    main(*sys.argv[1:4])
