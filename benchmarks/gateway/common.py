"""Shared helpers of the gateway benchmarks: processes on loopback, CPU time, a load generator.

Every process is started by the caller and stopped by :func:`stop_all`; nothing listens
beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-0123456789abcdef"
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 90) -> None:
    """Wait until something listens on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def start_cli(
    args: list[str], env: dict[str, str], port: int, prefix: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """``python [PREFIX] -m distillguard.cli ARGS`` with ``env``; waits for ``port``."""
    # DG_BENCH_SRC: run another checkout's sources (before/after comparisons)
    full = {**os.environ, **env, "PYTHONPATH": os.environ.get("DG_BENCH_SRC", str(ROOT / "src"))}
    p = subprocess.Popen(
        [sys.executable, *(prefix or []), "-m", "distillguard.cli", *args],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return p


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A throwaway redis-server on loopback (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    p = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return p


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate (then kill) every process, newest first."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def load_average() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]
