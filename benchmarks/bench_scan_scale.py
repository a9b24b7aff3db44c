"""Scan speed and memory at 1M / 3M / 10M events with prompt text.

Usage: .venv/bin/python benchmarks/bench_scan_scale.py [--small] [--sizes 1e6,3e6,1e7]
       [--scenario small-in-large]

Simulates ``scale-10m`` (or ``--scenario``) at the scale giving each size, then runs the scan
(ingest included) in a child process, so peak RSS is the scan's own, and prints wall time per
stage, peak RSS and quality against the simulator's labels, one row per size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys
from pathlib import Path
from distillguard.detect.scan import run_scan
r = run_scan([Path(sys.argv[1])], Path(sys.argv[2]))
Path(sys.argv[3]).write_text(json.dumps({"events": r.events, "accounts": r.accounts,
                             "timings": r.timings, "campaigns": len(r.campaigns)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="sizes 100k,300k")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--scenario",
        default="scale-10m",
        help="simulator preset; size N runs it at scale N / 10M (small-in-large: 1e7 = scale 1)",
    )
    args = ap.parse_args()
    sizes = [
        int(float(s))
        for s in (args.sizes or ("1e5,3e5" if args.small else "1e6,3e6,1e7")).split(",")
    ]
    from distillguard.detect.evaluate import evaluate
    from distillguard.sim import load_scenario, simulate

    base = load_scenario(args.scenario)
    stages = (
        "ingest",
        "annotate",
        "features",
        "scoring",
        "linking",
        "verdicts",
        "outputs",
        "total",
    )
    # One table, one row per size printed as soon as it is measured (a later size may fail).
    print(
        f"{'events':>9} {'accounts':>8} "
        + " ".join(f"{s:>9}" for s in stages)
        + f" {'peakGiB':>8} {'cmp':>4} {'prec':>6} {'recall':>6} {'fpr':>8} {'B3F1':>6}"
        + f" {'all':>5} {'load':>5}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="dg-scale-") as tmp:
        for n in sizes:
            work = Path(tmp) / str(n)
            sim = simulate(base, work / "sim", seed=args.seed, scale=n / 10_000_000)
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(sim.events_path),
                    str(work / "scan"),
                    str(work / "result.json"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
            if proc.returncode != 0:
                # Report the failure (an OOM kill is -9) and keep measuring the other sizes.
                tail = proc.stderr.strip().splitlines()[-3:]
                print(f"{n} events: scan failed (exit {proc.returncode}): {tail}", file=sys.stderr)
                continue
            out = json.loads((work / "result.json").read_text())
            ev = evaluate(work / "scan", sim.labels_path)
            quality = (ev.precision, ev.recall, ev.fpr, ev.bcubed_f1, str(ev.all_found))
            print(
                f"{out['events']:>9} {out['accounts']:>8} "
                + " ".join(f"{out['timings'].get(s, 0):>8.1f}s" for s in stages)
                + f" {peak_gib:>8.2f} {out['campaigns']:>4}"
                + " {:>6.3f} {:>6.3f} {:>8.5f} {:>6.3f} {:>5}".format(*quality)
                + f" {os.getloadavg()[0]:>5.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
