"""Detection quality on simulator scenarios: recall, FPR, B-cubed F1, time to detection.

Usage: .venv/bin/python benchmarks/bench_detect.py [--small] [--scenarios a,b] [--no-ttd]
       [--privacy] [--drop client,params,...] [--corpus DIR]

``--scenarios`` takes preset names and scenario YAML files (e.g.
``benchmarks/scenarios/sweep-only.yaml``), comma-separated.

Each scenario is simulated (seeded), scanned with the licensed org(s) of the scenario's
manifest on an allow-list, evaluated against its labels, and (unless --no-ttd) replayed on
prefixes for time to detection: ``TTD`` is the worst share of a campaign's volume sent
before a predicted campaign made mostly of its accounts appeared, ``TTD-1st`` the worst
share sent before one of its accounts was first flagged (``suspect`` or ``campaign``).

With --corpus DIR the simulator draws its prompts from DIR (laid out like
``../shared/data``; ``benchmarks/heldout_corpus.py`` builds one detection was not tuned on)
instead of the scenario's corpora. With --privacy the scan keeps no prompt text (`scan
--no-text`: prompt digests only, as `distillguard ingest` stores by default) and runs in
privacy mode. With --drop the simulated
events lose the given optional fields before the scan (top-level names such as ``client``,
``account``, ``params``, ``usage``, ``response``, ``org_id``, or dotted ones such as
``account.payment_fingerprint``): how detection holds up on logs that record less than the
simulator writes. When ``org_id`` is dropped, the allow-list names the licensed org's
accounts instead. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from distillguard.detect.evaluate import DetectionTime, detection_times, evaluate, read_labels
from distillguard.detect.scan import run_scan
from distillguard.sim import load_scenario, simulate

SCENARIOS = (
    "demo-week",
    "reseller-mix",
    "slow-and-low",
    "paraphrase",
    "enterprise-reuse",
    "eval-harness",
    "licensed",
    "small-in-large",
    "hydra-release",
)


def _allowlist(manifest: Path, out: Path) -> Path | None:
    data = json.loads(manifest.read_text())
    orgs = [e["org_id"] for e in data.get("allow_list", []) if e.get("org_id")]
    if not orgs:
        return None
    out.write_text(
        "entries:\n"
        + "".join(
            f"  - org: {o}\n    reason: licensed distillation (scenario manifest)\n" for o in orgs
        )
    )
    return out


def _drop_fields(events: Path, fields: list[str], manifest: Path, allow_out: Path) -> Path | None:
    """Rewrite ``events`` without ``fields``; return an account allow-list when org_id goes."""
    orgs = {e["org_id"] for e in json.loads(manifest.read_text()).get("allow_list", [])}
    licensed: set[str] = set()
    tmp = events.with_suffix(".dropped")
    with events.open("rb") as src, tmp.open("wb") as dst:
        for line in src:
            ev = json.loads(line)
            if ev.get("org_id") in orgs:
                licensed.add(ev["account_id"])
            for name in fields:
                *parents, leaf = name.split(".")
                obj = ev
                for key in parents:
                    obj = obj.get(key) if isinstance(obj, dict) else None
                if isinstance(obj, dict):
                    obj.pop(leaf, None)
            dst.write(json.dumps(ev).encode() + b"\n")
    tmp.replace(events)
    if "org_id" not in fields or not licensed:
        return None
    allow_out.write_text(
        "entries:\n"
        + "".join(
            f"  - account: {a}\n    reason: licensed (scenario manifest)\n"
            for a in sorted(licensed)
        )
    )
    return allow_out


def _share(v: float | None) -> str:
    return "-" if v is None else ("never" if v > 1 else f"{v:.1%}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="scale 0.05 instead of 0.25")
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--no-ttd", action="store_true")
    ap.add_argument("--privacy", action="store_true", help="scan without prompt text")
    ap.add_argument("--drop", default="", help="optional event fields to remove, comma-separated")
    ap.add_argument(
        "--corpus", type=Path, default=None, help="prompt corpora for the simulator (folder)"
    )
    args = ap.parse_args()
    scale = args.scale or (0.05 if args.small else 0.25)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dg-bench-") as tmp:
        for name in args.scenarios.split(","):
            # A preset name or a scenario YAML file (its file name names the row).
            work = Path(tmp) / (Path(name).stem if name.endswith((".yaml", ".yml")) else name)
            try:
                scenario = load_scenario(name)
                if args.corpus is not None:
                    scenario = msgspec.structs.replace(scenario, corpus_dir=str(args.corpus))
                sim = simulate(scenario, work / "sim", seed=args.seed, scale=scale)
            except Exception as exc:  # noqa: BLE001 - report the scenario, keep going
                rows.append((work.name, f"simulate failed: {exc}"))
                continue
            allow = _allowlist(sim.manifest_path, work / "allow.yaml")
            if args.drop:
                fields = [f.strip() for f in args.drop.split(",") if f.strip()]
                by_account = _drop_fields(
                    sim.events_path, fields, sim.manifest_path, work / "a.yaml"
                )
                allow = by_account or allow
            t = time.perf_counter()
            res = run_scan(
                [sim.events_path], work / "scan", allowlist=allow, keep_text=not args.privacy
            )
            scan_s = time.perf_counter() - t
            ev = evaluate(work / "scan", sim.labels_path)
            ttd: dict[str, DetectionTime] = {}
            if not args.no_ttd:
                ttd = detection_times(res.db, read_labels(sim.labels_path), allowlist=allow)
            worst = first = None
            if ttd:
                worst = max((t.campaign if t.campaign is not None else 1.01) for t in ttd.values())
                first = max(
                    (t.first_flag if t.first_flag is not None else 1.01) for t in ttd.values()
                )
            found = sum(1 for c in ev.campaigns if c.found)
            rows.append(
                (
                    work.name,
                    f"{sim.events:>9} {len(ev.campaigns):>3} {found:>5} "
                    f"{ev.recall:>7.3f} {ev.fpr:>8.4%} "
                    f"{(ev.heavy_fpr or 0):>7.2%} {ev.bcubed_f1:>6.3f} "
                    f"{_share(worst):>7} {_share(first):>7} "
                    f"{scan_s:>6.1f}s",
                )
            )
            # Each scenario's log and store go as soon as it is measured: 53 scenarios at
            # full scale keep ~45 GB otherwise.
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"scale {scale}, seed {args.seed}"
        + (", privacy mode" if args.privacy else "")
        + (f", without {args.drop}" if args.drop else "")
        + (f", corpus {args.corpus}" if args.corpus else "")
    )
    print(
        f"{'scenario':18} {'events':>9} {'cmp':>3} {'found':>5} {'recall':>7} {'FPR':>8} "
        f"{'heavyFP':>7} {'B3-F1':>6} {'TTD':>7} {'TTD-1st':>7} {'scan':>7}"
    )
    for name, line in rows:
        print(f"{name:18} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
