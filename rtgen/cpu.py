"""Which integer kernels this CPU gives ONNX Runtime: an int8 or timing figure is read
against it (an int8 step on x86 without VNNI takes another, saturating path; see
rtgen/export/int8math.py)."""

from __future__ import annotations

import platform
from pathlib import Path


def _cpu_flags(cpuinfo: str) -> set[str]:
    """x86 'flags' or ARM 'Features' of the first processor in /proc/cpuinfo."""
    for line in cpuinfo.splitlines():
        key = line.split(":", 1)[0].strip().lower()
        if key in ("flags", "features") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def integer_path(cpuinfo: str | None = None, machine: str | None = None) -> str:
    """One name for the int8 GEMM path: 'AVX512-VNNI', 'AVX-VNNI', 'AVX2 (no VNNI)',
    'ARM dot product', 'ARM (no dot product)', or 'other'."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    machine = (machine or platform.machine()).lower()
    flags = _cpu_flags(cpuinfo)
    if machine in ("aarch64", "arm64"):
        # macOS has no /proc/cpuinfo; every Apple silicon CPU has the dot product
        return "ARM dot product" if "asimddp" in flags or not cpuinfo else "ARM (no dot product)"
    if "avx512_vnni" in flags:
        return "AVX512-VNNI"
    if "avx_vnni" in flags:
        return "AVX-VNNI"
    if "avx2" in flags:
        return "AVX2 (no VNNI)"
    return "other"
