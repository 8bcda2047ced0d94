"""What the figures were measured on, and how much memory the process holds."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

from rtgen.cpu import integer_path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def machine_info() -> dict:
    """CPU model, core count, its int8 kernel path, OS, and the Python / runtime versions in use."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "int8_path": integer_path(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
    }


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_mb() -> float:
    """Resident memory now (VmRSS); where /proc is missing, the peak (ru_maxrss) instead."""
    kb = _status_kb("VmRSS")
    if kb is None:
        return peak_rss_mb()
    return round(kb / 1024, 1)


def peak_rss_mb() -> float:
    """The most resident memory the process has held (VmHWM, or ru_maxrss)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":  # bytes there, kilobytes on Linux
            kb //= 1024
    return round(kb / 1024, 1)
