"""Helpers shared by the gateway tests: a fake-backed gateway, a real redis-server, processes."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.keys import KeyAdmin, KeyResolver, MemoryKeyBackend
from distillguard.gateway.limits import LocalLimiter
from distillguard.gateway.metrics import GatewayMetrics
from distillguard.gateway.sources import MemorySource, PolicyCache
from distillguard.gateway.spool import SpoolWriter
from distillguard.gateway.standin import StandinConfig, create_standin
from distillguard.policy.table import DecisionTable, MemoryLog, MemoryPublisher

SECRET = "test-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def _root_conftest() -> Any:
    # tests/ is not a package; load the shared conftest by path to reuse require_binary
    spec = importlib.util.spec_from_file_location(
        "_dg_tests_conftest", ROOT / "tests" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


require_binary = _root_conftest().require_binary


@dataclass
class Fakes:
    gateway: Gateway
    keys: KeyAdmin
    table: DecisionTable
    publisher: MemoryPublisher
    source: MemorySource
    spool_dir: Path


def fake_gateway(tmp: Path, standin: StandinConfig | None = None, **cfg: Any) -> Fakes:
    """A gateway whose dependencies are in-process fakes; the upstream is the stand-in (ASGI)."""
    config = GatewayConfig(
        key_secret=SECRET, spool_dir=tmp / "spool", replica_id="r1", commit_window_ms=10, **cfg
    )
    pub = MemoryPublisher()
    backend = MemoryKeyBackend()
    source = MemorySource(pub, backend)
    transport = httpx.ASGITransport(app=create_standin(standin))
    upstream = httpx.AsyncClient(transport=transport, base_url="http://standin")
    gw = Gateway(
        config=config,
        keys=KeyResolver(source.key, SECRET.encode()),
        limiter=LocalLimiter(),
        policy=PolicyCache(source),
        spool=SpoolWriter(config.spool_dir, "r1", commit_window_s=0.01),
        upstream=upstream,
        upstream_transport=transport,
        metrics=GatewayMetrics(),
        key_admin=KeyAdmin(backend, SECRET.encode()),
        table=DecisionTable(pub, MemoryLog()),
        models=frozenset(config.models),
    )
    assert gw.key_admin is not None and gw.table is not None
    return Fakes(gw, gw.key_admin, gw.table, pub, source, config.spool_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def start_redis(binary: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc=proc)
    return proc


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def start_cli(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Run ``python -m distillguard.cli ARGS`` and wait for ``port``."""
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillguard.cli", *args],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port, proc=proc, timeout=60)
    except Exception:
        stop(proc)
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{args} failed to start: {err[-2000:]}") from None
    return proc
