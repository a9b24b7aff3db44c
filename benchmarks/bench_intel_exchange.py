"""Two-organisation exercise: does provider A's shared intel let provider B flag the campaign
earlier, without more false positives at B?

The simulator runs the same actor's campaign (same campaign id and seed: same proxies,
subnets, ASNs, user agents, e-mail domains and prompt wrappers) against two providers with
different legitimate users, B's window starting ``--shift`` days after A's. Account ids and
payment fingerprints are provider-specific, so B's copies are renamed: only infrastructure
and templates can carry over (``--fresh-infra`` also gives the actor new IP addresses at B,
so only templates, ASNs and user agents can). A scans its traffic and exports a STIX bundle
(``intel export``). B ingests its traffic into two identical stores; into one it imports A's
bundle (``intel import``). B then replays its traffic at growing shares of the campaign's
volume and, at each cutoff, runs the real pipeline on both stores: ``scan --until`` on the
plain store, and ``intel match --until`` then ``scan --until`` on the store with the bundle.
An account counts as flagged when the scan's verdict is ``campaign`` or ``suspect``. If A's
scan finds no campaign covering the actor, A's export is built from the simulator's labels
instead (written in the scan's contract form) and the table says so.

    .venv/bin/python benchmarks/bench_intel_exchange.py [--small]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from distillguard.detect.scan import run_scan
from distillguard.intel.config import IntelConfig
from distillguard.intel.export import export_bundle
from distillguard.intel.importer import import_bundle
from distillguard.intel.keys import CommunityKey
from distillguard.intel.match import match_intel
from distillguard.sim.engine import simulate
from distillguard.sim.scenario import scenario_from_dict
from distillguard.store import DuckDBStore

CARELESS = {
    "id": "actor-hydra",
    "accounts": 240,
    "exchanges": 9000,
    "tactics": {"reasoning_harvest": 0.8, "datagen": 0.2},
    "proxy": "datacenter",
    "asn_pool": 3,
    "subnets": 10,
    "ip_mode": "rotating",
    "creation_batch": 40,
    "payment_instruments": 6,
    "email": {"disposable": 0.6, "webmail": 0.4},
    "user_agents": {"tool": 1.0},
    "ua_pool": 3,
    "timing": "uniform",
    "paraphrases": 3,
}
CAREFUL = {
    "id": "actor-quiet",
    "accounts": 240,
    "exchanges": 6000,
    "tactics": {"reasoning_harvest": 0.7, "datagen": 0.3},
    "proxy": "residential",
    "ip_mode": "sticky",
    "asn_pool": 30,
    "account_age_days": 60,
    "creation_batch": 5,
    "creation_spread_min": 600,
    "daily_cap": 8,
    "paraphrases": 12,
    "timing": "human",
    "verified": 0.5,
}
ACTORS = {"careless": CARELESS, "careful": CAREFUL}
ACTOR = CAREFUL
CUTOFFS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.2, 1.0)


def scenario(org: str, start_day: float, window: float, legit_events: int) -> dict[str, object]:
    return {
        "name": f"provider-{org}",
        "days": 7,
        "legit_events": legit_events,
        "personas": [
            {"id": f"{org}-casual", "kind": "casual", "accounts": 1500, "rate": 2.5},
            {"id": f"{org}-dev", "kind": "developer", "accounts": 400, "rate": 12},
            {"id": f"{org}-ent", "kind": "enterprise", "accounts": 6, "orgs": 3, "rate": 600},
            {"id": f"{org}-eval", "kind": "eval_harness", "accounts": 2, "orgs": 1, "rate": 400},
            {"id": f"{org}-acad", "kind": "academic", "accounts": 60, "orgs": 4, "rate": 15},
        ],
        "campaigns": [{**ACTOR, "start_day": start_day, "end_day": start_day + window}],
    }


def _fresh_ip(ip: str) -> str:
    """A deterministic address in 198.18.0.0/15 (benchmarking range) for ``ip``."""
    h = hashlib.sha256(ip.encode()).digest()
    return f"198.{18 + h[0] % 2}.{h[1]}.{h[2]}"


def rename_b(src: Path, dst: Path, actor: set[str], fresh_infra: bool) -> None:
    """B's account ids and payment fingerprints are B's own: rename them; with
    ``fresh_infra`` the actor's accounts (original ids in ``actor``) get new IP addresses."""
    with src.open() as fin, dst.open("w") as fout:
        for line in fin:
            e = json.loads(line)
            if fresh_infra and e["account_id"] in actor and (e.get("client") or {}).get("ip"):
                e["client"]["ip"] = _fresh_ip(e["client"]["ip"])
            e["account_id"] = "B:" + e["account_id"]
            acct = e.get("account") or {}
            if acct.get("payment_fingerprint"):
                acct["payment_fingerprint"] = "B:" + acct["payment_fingerprint"]
            fout.write(json.dumps(e) + "\n")


def labels(path: Path, prefix: str = "") -> dict[str, str]:
    with path.open() as fh:
        return {prefix + r["account_id"]: r["campaign_id"] for r in csv.DictReader(fh)}


def oracle_results(out: Path, truth: dict[str, str], store: DuckDBStore) -> None:
    """A's campaign in the scan's contract form, from the labels (fallback only)."""
    accts = sorted(a for a, c in truth.items() if c == ACTOR["id"])
    row = store.sql(
        "SELECT min(ts) f, max(ts) l, count(*) n FROM events "
        "WHERE account_id IN (SELECT unnest(?))",
        [accts],
    ).to_pylist()[0]
    camp = {
        "campaign_id": "A-ORACLE-1",
        "accounts": accts,
        "risk": 0.9,
        "tactics": [{"atlas_id": "AML.T0024.002"}, {"atlas_id": "AML.T0005.001"}],
        "evidence": [],
        "first_seen": row["f"].isoformat(),
        "last_seen": row["l"].isoformat(),
        "volume": row["n"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "campaigns.json").write_text(json.dumps([camp]))
    with (out / "accounts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "risk", "verdict", "campaign_id", "top_reasons"])
        for a, c in truth.items():
            w.writerow([a, 0.9 if c else 0.0, "campaign" if c else "legit", c and "A-ORACLE-1", ""])


def flagged(out: Path) -> set[str]:
    with (out / "accounts.csv").open() as fh:
        return {
            r["account_id"] for r in csv.DictReader(fh) if r["verdict"] in ("campaign", "suspect")
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="quarter scale")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--shift", type=float, default=2.0, help="days B's window starts after A's")
    ap.add_argument("--actor", choices=sorted(ACTORS), default="careful")
    ap.add_argument("--fresh-infra", action="store_true", help="new IPs for the actor at B")
    d = IntelConfig()
    ap.add_argument("--min-campaign-accounts", type=int, default=d.min_campaign_accounts)
    ap.add_argument("--min-template-prompts", type=int, default=d.min_template_prompts)
    ap.add_argument("--infra-cap", type=float, default=d.infra_cap)
    ap.add_argument("--member-min-score", type=float, default=d.member_min_score)
    args = ap.parse_args()
    global ACTOR
    ACTOR = ACTORS[args.actor]
    cfg = IntelConfig(
        min_campaign_accounts=args.min_campaign_accounts,
        min_template_prompts=args.min_template_prompts,
        infra_cap=args.infra_cap,
        member_min_score=args.member_min_score,
    )
    scale = 0.25 if args.small else 0.5
    key = CommunityKey(b"bench-community-key-0123456789abcdef")
    work = Path(tempfile.mkdtemp(prefix="dg-intel-bench-"))
    t0 = time.perf_counter()
    sa = scenario_from_dict(scenario("a", 0.0, 4.0, 40000), "provider-a")
    sb = scenario_from_dict(scenario("b", args.shift, 4.0, 40000), "provider-b")
    ra = simulate(sa, work / "sim-a", seed=args.seed, scale=scale)
    rb = simulate(sb, work / "sim-b", seed=args.seed, scale=scale)
    raw_b = labels(rb.labels_path)
    rename_b(
        rb.events_path,
        work / "b-events.jsonl",
        {a for a, c in raw_b.items() if c == ACTOR["id"]},
        args.fresh_infra,
    )
    truth_a = labels(ra.labels_path)
    truth_b = labels(rb.labels_path, "B:")
    # provider A: scan, intel export
    scan_a = work / "scan-a"
    run_scan([ra.events_path], scan_a)
    a_flag = flagged(scan_a)
    actor_a = {a for a, c in truth_a.items() if c == ACTOR["id"]}
    a_mode = "scan"
    store_a = DuckDBStore(scan_a / "scan.duckdb")
    results_a = scan_a
    if len(a_flag & actor_a) < 0.5 * len(actor_a):
        a_mode = f"labels (scan flagged {len(a_flag & actor_a)}/{len(actor_a)})"
        results_a = work / "oracle-a"
        oracle_results(results_a, truth_a, store_a)
    exp = export_bundle(results_a, store_a, key, cfg, now=datetime.now(UTC))
    store_a.close()
    bundle = json.dumps(exp.bundle).encode()
    # provider B: ingest once into two identical stores; intel import into one of them
    scan_b = work / "scan-b"
    run_scan([work / "b-events.jsonl"], scan_b / "full")
    db_plain = scan_b / "full" / "scan.duckdb"
    db_intel = scan_b / "intel.duckdb"
    shutil.copyfile(db_plain, db_intel)
    store_b = DuckDBStore(db_intel)
    import_bundle(store_b, bundle, source="provider-a", cfg=cfg)
    actor_b = sorted(a for a, c in truth_b.items() if c == ACTOR["id"])
    legit_b = {a for a, c in truth_b.items() if not c}
    ts = [
        r["ts"]
        for r in store_b.sql(
            "SELECT ts FROM events WHERE account_id IN (SELECT unnest(?)) ORDER BY ts", [actor_b]
        ).to_pylist()
    ]
    store_b.close()
    rows = []
    kinds_at: dict[float, dict[str, int]] = {}
    for q in CUTOFFS:
        k = max(1, round(q * len(ts)))
        until = ts[k - 1]
        run_scan(None, scan_b / f"plain-{q}", db=db_plain, until=until)
        store_b = DuckDBStore(db_intel)
        m = match_intel(store_b, key, until=until, min_template_prompts=cfg.min_template_prompts)
        active = {
            r["account_id"]
            for r in store_b.sql(
                "SELECT DISTINCT account_id FROM events WHERE ts <= ?", [until]
            ).to_pylist()
        }
        store_b.close()
        kinds_at[q] = m.by_kind
        run_scan(None, scan_b / f"intel-{q}", db=db_intel, until=until, intel_config=cfg)
        alone, both = flagged(scan_b / f"plain-{q}"), flagged(scan_b / f"intel-{q}")
        act_c = active & set(actor_b)
        act_l = active & legit_b
        rows.append(
            (
                q,
                k,
                len(act_c),
                len(alone & act_c) / max(len(act_c), 1),
                len(both & act_c) / max(len(act_c), 1),
                len(alone & act_l),
                len(both & act_l),
                len(act_l),
            )
        )
    total = time.perf_counter() - t0

    def first(col: int) -> str:
        hit = next((r for r in rows if r[col] >= 0.5), None)
        return f"{hit[1]:,} events ({hit[0]:.2%})" if hit else "not within B's window"

    print(
        f"actor {args.actor}{' (fresh IPs at B)' if args.fresh_infra else ''}, export "
        f"min_campaign_accounts {cfg.min_campaign_accounts}, match min_template_prompts "
        f"{cfg.min_template_prompts}, infra_cap {cfg.infra_cap}, member_min_score "
        f"{cfg.member_min_score}; A: {ra.events:,} events, detection by {a_mode}; bundle "
        f"{len(exp.bundle['objects'])} objects, indicator values {exp.indicators}; B: "
        f"{rb.events:,} events, {len(actor_b)} actor accounts, {len(legit_b)} legit; {total:.0f} s"
    )
    print(f"intel hits by kind (account, indicator) at {CUTOFFS[2]:.0%}: {kinds_at[CUTOFFS[2]]}")
    print(
        "| B campaign volume | events | actor accts active | recall scan | recall intel+scan "
        "| legit FP scan | legit FP intel+scan | legit active |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for q, k, na, r1, r2, f1, f2, nl in rows:
        print(f"| {q:.2%} | {k:,} | {na} | {r1:.2f} | {r2:.2f} | {f1} | {f2} | {nl} |")
    print(f"| recall >= 0.5 reached at | | | {first(3)} | {first(4)} | | | |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
