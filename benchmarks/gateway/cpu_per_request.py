"""CPU time per request of each process on the gateway path (robust on a loaded machine).

Starts redis-server, the stand-in upstream and one gateway worker (limits, policy with 1,001
decisions, capture with spool + loader, as in ``bench_gateway.py``), sends a fixed open-loop
load from a separate process, and divides each process's user+system CPU time (from /proc)
by the number of requests. Wall-clock latency on a shared box measures the run queue; CPU
time per request measures the code.

    .venv/bin/python benchmarks/gateway/cpu_per_request.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    cpu_seconds,
    free_port,
    load_average,
    start_cli,
    start_redis,
    stop_all,
)
from setup import bench_env, seed_redis  # noqa: E402


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out += [int(k) for k in kids]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--profile", help="write a cProfile of the gateway process here")
    a = ap.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="dg-cpu-") as tmp:
        try:
            rport, uport, gport = free_port(), free_port(), free_port()
            procs.append(start_redis(rport))
            procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
            env = bench_env(rport, uport, Path(tmp))
            key = seed_redis(rport, decisions=1000)
            prefix = ["-m", "cProfile", "-o", a.profile] if a.profile else None
            gw = start_cli(["serve", "--port", str(gport)], env, gport, prefix)
            procs.append(gw)
            pids = {"gateway": gw.pid, "upstream": procs[1].pid, "redis": procs[0].pid}
            pids.update({f"sink-{i}": c for i, c in enumerate(children(gw.pid))})
            before = {k: cpu_seconds(p) for k, p in pids.items()}
            lg = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks/gateway/loadgen.py"),
                    f"http://127.0.0.1:{gport}/v1/chat/completions",
                    key,
                    str(a.rate),
                    str(a.seconds),
                ],
                capture_output=True,
                check=True,
            )
            after = {k: cpu_seconds(p) for k, p in pids.items()}
        finally:
            stop_all(procs)
    res = json.loads(lg.stdout)
    n = res["sent"] + 20
    print(f"load {a.rate:.0f} req/s x {a.seconds:.0f} s; load average {load_average():.1f}")
    print("process  | CPU us / request")
    print("-------- | ----------------")
    for k in pids:
        print(f"{k:8} | {(after[k] - before[k]) / n * 1e6:.0f}")
    print(f"errors {res['errors']} of {res['sent']}; statuses {res['statuses']}")


if __name__ == "__main__":
    main()
