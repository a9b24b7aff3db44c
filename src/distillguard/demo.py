"""``distillguard demo``: a simulated week of API traffic, scanned end to end.

The demo is the first thing a new user runs (``make demo``), so it uses only what ships in
the package: the simulator's preset ``demo-week`` and its bundled corpus slice (or the fuller
corpora in ``../shared/data`` when present), the embedded DuckDB store, the full scan, and
the evaluation against the simulator's ground truth. Nothing needs a server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from distillguard.detect.evaluate import evaluate, read_labels
from distillguard.detect.scan import ScanResult, run_scan
from distillguard.sim import SimResult, load_scenario, simulate


def write_allowlist(manifest: dict[str, Any], path: Path) -> Path:
    """Turn the simulator's list of licensed orgs into an allow-list file, as an operator would.

    Licensed distillation customers are known to the provider by contract; the simulator's
    manifest names them so that the demo can configure the allow-list the same way.
    """
    entries = [
        {"org": e["org_id"], "reason": f"Licensed by contract ({e['persona']})"}
        for e in manifest.get("allow_list", [])
        if isinstance(e, dict)
    ]
    path.write_text(yaml.safe_dump({"entries": entries}, sort_keys=False), encoding="utf-8")
    return path


def _summary(console: Console, sim: SimResult, scan: ScanResult, secs: dict[str, float]) -> None:
    table = Table(title="distillguard demo: one simulated week", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("events simulated", f"{sim.events:,}")
    table.add_row("accounts", f"{sim.accounts:,}")
    table.add_row("campaign accounts (ground truth)", f"{sim.campaign_accounts:,}")
    ing = scan.ingest
    if ing is not None:
        table.add_row(
            "ingest read / accepted / duplicates / quarantined",
            f"{ing.read:,} / {ing.accepted:,} / {ing.duplicates:,} / {ing.quarantined:,}",
        )
    for verdict in ("campaign", "suspect", "legit"):
        table.add_row(f"accounts judged {verdict}", f"{scan.verdicts.get(verdict, 0):,}")
    table.add_row("campaigns found", f"{len(scan.campaigns)}")
    for stage, s in secs.items():
        table.add_row(f"time: {stage}", f"{s:.1f} s")
    console.print(table)


def _campaigns(console: Console, scan: ScanResult) -> None:
    if not scan.campaigns:
        return
    table = Table(title="Campaigns (highest risk first)")
    for col in ("campaign", "accounts", "events", "risk", "tactics"):
        table.add_column(col)
    for c in sorted(scan.campaigns, key=lambda c: -c.risk)[:10]:
        tactics = ", ".join(
            t.get("name", str(t)) if isinstance(t, dict) else str(t) for t in c.tactics
        )
        table.add_row(
            c.campaign_id, f"{len(c.accounts):,}", f"{c.volume:,}", f"{c.risk:.2f}", tactics
        )
    console.print(table)


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the simulated log, the store and the report.",
)
@click.option(
    "--scenario", default="demo-week", show_default=True, help="Simulator preset or YAML file."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply volumes and account counts (0.1 for a quick look).",
)
def demo(out_dir: Path, scenario: str, seed: int, scale: float) -> None:
    """Simulate a week of API traffic with campaigns, scan it, and summarise what was found.

    Writes OUT/sim/events.jsonl (the simulated log) with its ground truth labels, the
    embedded store OUT/distillguard.duckdb, and the scan's outputs OUT/accounts.csv,
    OUT/campaigns.json and OUT/report.html (open it in a browser).

    \b
    Examples:
      distillguard demo
      distillguard demo --out /tmp/dg --scale 0.2 --seed 1
    """
    console = Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    secs: dict[str, float] = {}
    t = time.perf_counter()
    sim = simulate(load_scenario(scenario), out_dir / "sim", seed=seed, scale=scale, progress=True)
    secs["simulate"] = time.perf_counter() - t
    manifest = json.loads(sim.manifest_path.read_text(encoding="utf-8"))
    allow = write_allowlist(manifest, out_dir / "allowlist.yaml")
    db = out_dir / "distillguard.duckdb"
    db.unlink(missing_ok=True)
    t = time.perf_counter()
    scan = run_scan([sim.events_path], out_dir, db=db, allowlist=allow, progress=True)
    secs["ingest + scan"] = time.perf_counter() - t
    _summary(console, sim, scan, secs)
    _campaigns(console, scan)
    result = evaluate(out_dir, read_labels(sim.labels_path))
    quality = Table(title="Against the simulator's ground truth")
    for col in ("precision", "recall", "FPR on legit", "B-cubed F1", "campaigns found"):
        quality.add_column(col, justify="right")
    found = sum(1 for c in result.campaigns if c.found)
    quality.add_row(
        f"{result.precision:.3f}",
        f"{result.recall:.3f}",
        f"{result.fpr:.4%}",
        f"{result.bcubed_f1:.3f}",
        f"{found} of {len(result.campaigns)}",
    )
    console.print(quality)
    console.print(f"Report: {scan.report_html}")
