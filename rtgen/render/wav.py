"""16-bit PCM WAV files, written and read with the standard library's ``wave`` module.

Both synths end here: the samples are float in -1..1, shape ``(frames, channels)``; the loudest
sample is brought to PEAK (down when louder, so nothing clips; up when quieter, so a quiet
rendering is still audible), then written as 16-bit integers.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from rtgen.errors import RtgenError

RATE = 44100  # CD rate: what every player and DAW opens
PEAK = 0.89  # -1 dBFS: headroom for a player's resampling, never a clipped sample
FULL_SCALE = 32767


def normalise(samples: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """``samples`` scaled so the loudest is ``peak``; all-zero samples are left as they are."""
    top = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples if top == 0.0 else samples * (peak / top)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    """Write ``samples`` (frames, channels), float in -1..1, as 16-bit PCM; a file that cannot
    be written is a one-line RtgenError."""
    frames = samples.reshape(len(samples), -1)  # (frames, channels): mono may come as 1-D
    pcm = np.round(np.clip(frames, -1.0, 1.0) * FULL_SCALE).astype("<i2")
    try:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(frames.shape[1])
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
    except OSError as exc:
        raise RtgenError(f"{path}: cannot write ({exc.strerror or exc})") from None


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file as ``(samples (frames, channels) float in -1..1, rate)``."""
    try:
        with wave.open(str(path), "rb") as src:
            if src.getsampwidth() != 2:
                raise RtgenError(f"{path}: not 16-bit PCM ({8 * src.getsampwidth()}-bit)")
            channels, rate = src.getnchannels(), src.getframerate()
            raw = src.readframes(src.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise RtgenError(f"{path}: cannot read a WAV file ({exc})") from None
    pcm = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)
    return pcm.astype(np.float64) / FULL_SCALE, rate
