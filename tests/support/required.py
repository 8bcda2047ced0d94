"""What a test needs from the machine (JACK, a network namespace, the Link binding,
FluidSynth): missing under CI, the test fails, since .ci/run installs it all; elsewhere it is
skipped with the reason."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, reason: str) -> NoReturn:
    """Fail under CI (CI is set), skip elsewhere; never returns."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (CI is set): {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")
