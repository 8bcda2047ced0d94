"""The running JACK server's period: JACK delivers MIDI once a period, at its start.

A message handed to a JACK port lands at the start of the next period, so it arrives up to
one period late. Sent half a period before its deadline, it lands on the period boundary
nearest the deadline instead: the error is centred (|error| <= half a period) rather than
always late. rtgen play does this by default on JACK (``send_ahead_ms``), and so does the
bench's onset measurement.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def period_ns() -> int | None:
    """The current server's period (buffer size / sample rate) in ns; None if not known.

    Asks ``jack_bufsize`` and ``jack_samplerate`` (jackd2's tools), which answer for the
    server JACK_DEFAULT_SERVER names, the bench's private one included.
    """
    values = []
    for tool in ("jack_bufsize", "jack_samplerate"):
        if shutil.which(tool) is None:
            return None
        try:
            env = {**os.environ, "JACK_NO_START_SERVER": "1"}
            res = subprocess.run([tool], capture_output=True, text=True, timeout=5, env=env)
        except subprocess.TimeoutExpired:
            return None
        words = res.stdout.split()
        if res.returncode != 0 or not words or not words[-1].isdigit():
            return None
        values.append(int(words[-1]))
    frames, rate = values
    return round(frames * 1e9 / rate) if rate else None
