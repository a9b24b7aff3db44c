"""Gateway.stop is bounded: a background task that ignores cancellation does not hold it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from distillguard.gateway import app as gateway_app

from .helpers import fake_gateway


def test_stop_does_not_wait_forever_for_a_task_that_ignores_cancellation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(gateway_app, "STOP_TASKS_TIMEOUT_S", 0.2)
    gw = fake_gateway(tmp_path).gateway
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows the cancellation, as a stuck dependency can

    async def run() -> bool:
        task = asyncio.get_running_loop().create_task(stubborn())
        gw._tasks.add(task)
        await asyncio.sleep(0)
        await asyncio.wait_for(gw.stop(), timeout=10)
        stopped_without_it = not task.done()
        release.set()
        await task
        return stopped_without_it

    with caplog.at_level(logging.WARNING, logger="distillguard.gateway"):
        assert asyncio.run(run())
    assert "did not finish" in caplog.text
