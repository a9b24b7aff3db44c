"""Detection quality on scenarios drawn at random from the simulator's parameter space.

Usage: .venv/bin/python benchmarks/bench_detect_random.py [--count 12] [--draw 1]
       [--scale 1.0] [--seed 1] [--corpus DIR] [--keep DIR] [--only 3,7]

The hand-written scenarios (``src/distillguard/sim/scenarios``, ``benchmarks/scenarios``)
were written by the people who tuned detection, so each one tests the tactics they
thought of, in the combinations they thought of. This benchmark draws ``--count``
scenarios from a seeded generator (``--draw``) instead: the legitimate population (casual
users and developers always; enterprise apps, evaluation harnesses, academics, an
allow-listed licensed lab and a reseller each half the time, with random sizes, rates
and shared-org structure) and one to three campaigns whose every parameter is drawn
(accounts from a handful to a few thousand, volume per account, one to three content
tactics, proxies and IP modes, payment and e-mail mixes, timing, daily caps, load
balancing, paraphrases, aged accounts, hydra lifetimes, release chasing, hiding in the
reseller). Nothing in it names a scenario detection was tuned on, and a new ``--draw``
gives scenarios nobody has seen.

Every draw is simulated at ``--scale`` with ``--seed``, scanned with the allow-listed
orgs on an allow-list and evaluated against its labels. The table has one row per
scenario (what was drawn, in short; events; campaigns found; recall; FPR; B-cubed F1)
and a last row over all of them. With ``--keep DIR`` each scenario's YAML and its scan
results are kept (``DIR/rNN/scenario.yaml``, ``DIR/rNN/scan``) so that a failure can be
rerun and read; ``--only`` runs the given draw numbers alone.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import yaml

from distillguard.detect.evaluate import evaluate
from distillguard.detect.scan import run_scan
from distillguard.sim import simulate
from distillguard.sim.scenario import CONTENT_TACTICS, scenario_from_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import _allowlist  # noqa: E402 - the benchmarks share the allow-list writer

MODELS_BASE = ("orion-4", "orion-4-mini", "orion-4-reasoner")


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _mix(rng: random.Random, names: tuple[str, ...]) -> dict[str, float]:
    return {n: round(rng.uniform(0.05, 1.0), 2) for n in names}


def _personas(rng: random.Random, models: list[str], released: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"id": "casual", "kind": "casual", "accounts": rng.randint(3000, 10000), "rate": 2.5},
        {
            "id": "developers",
            "kind": "developer",
            "accounts": rng.randint(800, 3000),
            "rate": round(rng.uniform(6, 20), 1),
        },
    ]
    if released and rng.random() < 0.5:
        out[1]["models"] = {released: 3, models[0]: 1}
    if rng.random() < 0.5:
        orgs = rng.randint(2, 8)
        out.append(
            {
                "id": "enterprise",
                "kind": "enterprise",
                "accounts": orgs * rng.randint(1, 3),
                "orgs": orgs,
                "rate": rng.choice([300, 800, 2000]),
                "keys_per_account": rng.randint(1, 3),
            }
        )
    if rng.random() < 0.5:
        orgs = rng.randint(1, 4)
        out.append(
            {
                "id": "eval-harness",
                "kind": "eval_harness",
                "accounts": orgs + rng.randint(0, 6),
                "orgs": orgs,
                "rate": rng.choice([200, 500, 1500]),
            }
        )
    if rng.random() < 0.5:
        out.append(
            {
                "id": "academics",
                "kind": "academic",
                "accounts": rng.randint(50, 400),
                "orgs": rng.randint(3, 15),
                "rate": round(rng.uniform(8, 25), 1),
            }
        )
    if rng.random() < 0.5:
        out.append(
            {
                "id": "licensed",
                "kind": "licensed",
                "accounts": rng.randint(1, 4),
                "orgs": 1,
                "rate": rng.choice([500, 1500, 3000]),
                "allow_listed": True,
            }
        )
    if rng.random() < 0.5:
        out.append(
            {
                "id": "reseller",
                "kind": "reseller",
                "accounts": rng.randint(100, 600),
                "rate": round(rng.uniform(4, 12), 1),
            }
        )
    return out


def _campaign(
    rng: random.Random,
    i: int,
    days: float,
    legit_events: int,
    models: list[str],
    released: tuple[str, float] | None,
    reseller: bool,
) -> dict[str, Any]:
    size = rng.choice(["few", "medium", "medium", "large"])
    accounts = {
        "few": rng.randint(3, 12),
        "medium": int(_log_uniform(rng, 20, 400)),
        "large": int(_log_uniform(rng, 400, 4000)),
    }[size]
    per_account = _log_uniform(rng, 8, 400) if size != "few" else _log_uniform(rng, 300, 4000)
    exchanges = int(min(accounts * per_account, 0.4 * legit_events))
    exchanges = max(exchanges, 2 * accounts)
    k = rng.choice([1, 1, 2, 3])
    tactics = {t: round(rng.uniform(0.1, 1.0), 2) for t in rng.sample(CONTENT_TACTICS, k)}
    proxies = ["residential", "datacenter", "mobile", "mixed"] + (["reseller"] if reseller else [])
    proxy = rng.choice(proxies)
    start = round(rng.uniform(0, days * 0.5), 1) if rng.random() < 0.4 else 0.0
    c: dict[str, Any] = {
        "id": f"op{i}",
        "accounts": accounts,
        "exchanges": exchanges,
        "tactics": tactics,
        "tactic_per_account": rng.random() < 0.25 and k > 1,
        "start_day": start,
        "creation_batch": max(1, int(_log_uniform(rng, 1, max(2, accounts)))),
        "creation_spread_min": round(_log_uniform(rng, 5, 3000)),
        "account_age_days": round(_log_uniform(rng, 1, 400), 1),
        "proxy": proxy,
        "ip_mode": rng.choice(["sticky", "rotating"]),
        "asn_pool": int(_log_uniform(rng, 1, 120)),
        "operator_utc_offset": rng.choice([-8, -5, 0, 1, 3, 5.5, 8, 9]),
        "payment_instruments": rng.choice([0, 0, 1, max(1, accounts // 20), rng.randint(2, 6)]),
        "email": _mix(rng, ("webmail", "disposable", "custom")),
        "user_agents": _mix(rng, ("sdk", "tool", "browser")),
        "ua_pool": rng.choice([0, 0, 1, 3]),
        "timing": rng.choice(["human", "uniform", "periodic", "burst"]),
        "jitter": round(rng.uniform(0.05, 0.9), 2),
        "daily_cap": rng.choice([0, 0, 0, rng.randint(2, 10)]),
        "load_balance": rng.random() < 0.3,
        "paraphrases": rng.choice([1, 1, rng.randint(5, 40), rng.randint(50, 300)]),
        "verified": round(rng.random(), 2),
        "tier": f"tier-{rng.randint(1, 5)}",
    }
    if proxy == "reseller":
        c["reseller"] = "reseller"
    if start and rng.random() < 0.5:
        c["end_day"] = round(rng.uniform(start + 1, days), 1)
    if rng.random() < 0.2:
        c["lifetime_days"] = round(rng.uniform(0.5, 3), 1)
    if rng.random() < 0.3:
        c["subnets"] = rng.randint(1, 20)
    if rng.random() < 0.5:
        c["models"] = {m: round(rng.uniform(0.2, 3), 1) for m in rng.sample(models, 2)}
    if released is not None and rng.random() < 0.5:
        c["release_chase"] = released[0]
        c["chase_share"] = round(rng.uniform(0.3, 1.0), 2)
        c["chase_lag_hours"] = round(_log_uniform(rng, 1, 30), 1)
    return c


def draw(rng: random.Random, n: int) -> dict[str, Any]:
    """One random scenario as plain data (what a YAML file would hold)."""
    days = rng.choice([3, 5, 7, 10, 14])
    models: list[dict[str, Any]] = [
        {"name": "orion-4", "weight": 3},
        {"name": "orion-4-mini", "weight": 4},
        {"name": "orion-4-reasoner", "reasoning": True, "weight": 1},
    ]
    released: tuple[str, float] | None = None
    if rng.random() < 0.5:
        day = round(rng.uniform(1, days * 0.7), 1)
        models.append({"name": "orion-5", "released_day": day, "reasoning": True, "weight": 2})
        released = ("orion-5", day)
    names = [m["name"] for m in models]
    legit_events = rng.choice([150_000, 250_000, 400_000])
    personas = _personas(rng, names, released[0] if released else None)
    reseller = any(p["kind"] == "reseller" for p in personas)
    campaigns = [
        _campaign(rng, i + 1, days, legit_events, names, released, reseller)
        for i in range(rng.choice([1, 1, 2, 3]))
    ]
    return {
        "name": f"random-{n:02d}",
        "description": "Drawn at random by benchmarks/bench_detect_random.py.",
        "start": f"2026-0{rng.randint(1, 9)}-0{rng.randint(1, 9)}T00:00:00Z",
        "days": days,
        "legit_events": legit_events,
        "models": models,
        "personas": personas,
        "campaigns": campaigns,
    }


def _short(data: dict[str, Any]) -> str:
    parts = []
    for c in data["campaigns"]:
        tactics = "+".join(t.split("_")[0][:6] for t in c["tactics"])
        extra = "".join(
            (
                f" cap{c['daily_cap']}" if c["daily_cap"] else "",
                " lb" if c["load_balance"] else "",
                " chase" if c.get("release_chase") else "",
                f" para{c['paraphrases']}" if c["paraphrases"] > 1 else "",
            )
        )
        parts.append(f"{c['accounts']}a/{c['exchanges']}x {tactics} {c['proxy'][:5]}{extra}")
    return "; ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=12, help="scenarios to draw")
    ap.add_argument("--draw", type=int, default=1, help="seed of the scenario generator")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1, help="simulator seed")
    ap.add_argument("--corpus", type=Path, default=None, help="prompt corpora (folder)")
    ap.add_argument("--keep", type=Path, default=None, help="keep scenarios and scans here")
    ap.add_argument("--only", default="", help="draw numbers to run, comma-separated")
    args = ap.parse_args()
    rng = random.Random(args.draw)
    drawn = [draw(rng, n + 1) for n in range(args.count)]
    only = {int(x) for x in args.only.split(",") if x.strip()}
    rows: list[tuple[str, str, str]] = []
    totals = {"runs": 0, "cmp": 0, "found": 0, "pos": 0, "hit": 0, "neg": 0, "fp": 0}
    worst_fpr = 0.0
    with tempfile.TemporaryDirectory(prefix="dg-bench-random-") as tmp:
        for n, data in enumerate(drawn, start=1):
            if only and n not in only:
                continue
            work = (args.keep or Path(tmp)) / f"r{n:02d}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            (work / "scenario.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
            t = time.perf_counter()
            try:
                scenario = scenario_from_dict(data, f"draw {n}")
                if args.corpus is not None:
                    scenario = msgspec.structs.replace(scenario, corpus_dir=str(args.corpus))
                sim = simulate(scenario, work / "sim", seed=args.seed, scale=args.scale)
                allow = _allowlist(sim.manifest_path, work / "allow.yaml")
                run_scan([sim.events_path], work / "scan", allowlist=allow)
                ev = evaluate(work / "scan", sim.labels_path)
            except Exception as exc:  # noqa: BLE001 - report the draw, keep going
                rows.append((f"r{n:02d}", _short(data), f"failed: {exc}"))
                continue
            found = sum(1 for c in ev.campaigns if c.found)
            totals["runs"] += 1
            totals["cmp"] += len(ev.campaigns)
            totals["found"] += found
            totals["pos"] += ev.positives
            totals["hit"] += round(ev.recall * ev.positives)
            totals["neg"] += ev.accounts - ev.positives
            totals["fp"] += len(ev.false_positives)
            worst_fpr = max(worst_fpr, ev.fpr)
            rows.append(
                (
                    f"r{n:02d}",
                    _short(data),
                    f"{sim.events:>8} {found:>2}/{len(ev.campaigns):<2} {ev.recall:>6.3f} "
                    f"{ev.fpr:>8.4%} {ev.bcubed_f1:>6.3f} {time.perf_counter() - t:>5.0f}s",
                )
            )
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
            else:
                shutil.rmtree(work / "sim", ignore_errors=True)  # the scenario file rebuilds it
    width = max([len(r[1]) for r in rows] + [10])
    print(
        f"draw {args.draw}, {args.count} scenarios, scale {args.scale}, seed {args.seed}"
        + (f", corpus {args.corpus}" if args.corpus else "")
    )
    print(
        f"{'run':4} {'campaigns drawn':{width}} {'events':>8} {'found':>5} {'recall':>6} "
        f"{'FPR':>8} {'B3-F1':>6} {'time':>6}"
    )
    for name, what, line in rows:
        print(f"{name:4} {what:{width}} {line}")
    if totals["runs"]:
        recall = totals["hit"] / max(1, totals["pos"])
        fpr = totals["fp"] / max(1, totals["neg"])
        print(
            f"{'all':4} {'':{width}} {'':>8} {totals['found']:>2}/{totals['cmp']:<2} "
            f"{recall:>6.3f} {fpr:>8.4%} (worst run's FPR {worst_fpr:.4%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
