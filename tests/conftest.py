"""Shared fixtures.

Tests that need an external program (redis-server, chromium, java) call
:func:`require_binary`: it skips with a clear reason on a developer machine without it, and
fails under CI (``CI=true``), where .ci/run installs it, so that CI never skips silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def require_binary(name: str) -> str:
    """Return the path of ``name`` or skip (fail under CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_shared_data() -> Path:
    """Return ../shared/data or skip (fail under CI) when it is absent."""
    if not SHARED_DATA.is_dir():
        msg = f"{SHARED_DATA} is absent: the shared corpora are not beside this checkout"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture()
def shared_data() -> Path:
    return require_shared_data()
