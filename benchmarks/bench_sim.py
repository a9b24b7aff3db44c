"""Simulator throughput: events/s and peak RSS per scenario and scale.

Each case runs in a fresh subprocess so that its peak RSS is its own. Wall-clock rates depend
on what else the machine runs; events per CPU-second (one core) is the stable figure.

    .venv/bin/python benchmarks/bench_sim.py --small   # quick: demo-week at 0.1 and 1
    .venv/bin/python benchmarks/bench_sim.py           # + small-in-large at 0.1, privacy mode
    .venv/bin/python benchmarks/bench_sim.py --full    # + scale-10m at 1 (10M+ events)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from distillguard.sim import load_scenario, simulate
name, scale, text, out = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1", Path(sys.argv[4])
t0, c0 = time.perf_counter(), time.process_time()
r = simulate(load_scenario(name), out, seed=0, scale=scale, text=text)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
size = r.events_path.stat().st_size
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"events": r.events, "campaign_accounts": r.campaign_accounts,
                  "accounts": r.accounts, "seconds": dt, "cpu": cpu, "rss_mb": rss, "bytes": size}))
"""


def run_case(name: str, scale: float, text: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, name, str(scale), "1" if text else "0", tmp],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--small", action="store_true", help="quick cases only")
    ap.add_argument("--full", action="store_true", help="include the 10M-event scale-10m run")
    args = ap.parse_args()
    cases = [("demo-week", 0.1, True), ("demo-week", 1.0, True)]
    if not args.small:
        cases += [("demo-week", 1.0, False), ("small-in-large", 0.1, True)]
    if args.full:
        cases += [("scale-10m", 1.0, True)]
    header = f"{'scenario':<16}{'scale':>7}{'text':>6}{'events':>12}{'camp.acc':>10}"
    header += f"{'wall s':>8}{'events/s':>10}{'CPU s':>7}{'ev/CPU-s':>10}{'MB/s':>6}{'RSS MB':>8}"
    print(header)
    print("-" * len(header))
    for name, scale, text in cases:
        r = run_case(name, scale, text)
        rate = r["events"] / r["seconds"]
        mbs = r["bytes"] / r["seconds"] / 1e6
        print(
            f"{name:<16}{scale:>7g}{'yes' if text else 'no':>6}{int(r['events']):>12,}"
            f"{int(r['campaign_accounts']):>10,}{r['seconds']:>8.1f}{rate:>10,.0f}"
            f"{r['cpu']:>7.1f}{r['events'] / r['cpu']:>10,.0f}{mbs:>6.0f}{r['rss_mb']:>8,.0f}"
        )


if __name__ == "__main__":
    main()
