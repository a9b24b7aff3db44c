"""``distillguard simulate``: generate labelled traffic from a scenario."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.table import Table

from distillguard.sim.engine import simulate as run_simulation
from distillguard.sim.scenario import SCENARIOS, load_scenario, with_days


def _list_presets(console: Console) -> None:
    table = Table(title="Scenario presets", show_lines=False)
    for col in ("name", "days", "personas", "campaigns", "description"):
        table.add_column(col, overflow="fold")
    for name in SCENARIOS:
        s = load_scenario(name)
        desc = " ".join(s.description.split())
        table.add_row(name, f"{s.days:g}", str(len(s.personas)), str(len(s.campaigns)), desc[:110])
    console.print(table)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--scenario",
    "scenario_name",
    default="demo-week",
    show_default=True,
    help="Preset name (see --list) or path to a scenario YAML file.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply account counts and volumes (0.01 for a quick run).",
)
@click.option("--days", type=float, default=None, help="Override the scenario's span (days).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sim-out"),
    show_default=True,
    help="Output directory.",
)
@click.option("--no-text", is_flag=True, help="Privacy mode: no prompt text in events.")
@click.option(
    "--compress", type=click.Choice(["zst", "gz"]), default=None, help="Compress events.jsonl."
)
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Prompt corpora directory (layout of ../shared/data).",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenario presets and exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(
    scenario_name: str,
    seed: int,
    scale: float,
    days: float | None,
    out_dir: Path,
    no_text: bool,
    compress: str | None,
    corpus_dir: Path | None,
    list_only: bool,
    quiet: bool,
) -> None:
    """Generate realistic traffic (legitimate personas and campaigns) with ground-truth labels.

    Writes OUT/events.jsonl (canonical events, chronological), OUT/labels.csv
    (account_id,campaign_id for every account) and OUT/scenario.json (the manifest).
    The same scenario, seed and scale always give byte-identical files.

    \b
    Examples:
      distillguard simulate --list
      distillguard simulate --scenario demo-week --seed 7 --out sim/
      distillguard simulate --scenario small-in-large --scale 0.05 --compress zst
      distillguard simulate --scenario my-scenario.yaml --days 2 --no-text
      distillguard simulate --scenario paraphrase --corpus /data/my-corpora
    """
    console = Console(stderr=True)
    if list_only:
        _list_presets(Console())
        return
    scenario = load_scenario(scenario_name)
    if days is not None:
        scenario = with_days(scenario, days)
    if corpus_dir is not None:
        scenario = msgspec.structs.replace(scenario, corpus_dir=str(corpus_dir))
    result = run_simulation(
        scenario,
        out_dir,
        seed=seed,
        scale=scale,
        text=not no_text,
        compress=compress,
        progress=not quiet,
    )
    table = Table(title=f"simulated {scenario.name} (seed {seed}, scale {scale:g})")
    table.add_column("population")
    table.add_column("accounts", justify="right")
    table.add_column("events", justify="right")
    table.add_row(
        "legitimate", f"{result.accounts - result.campaign_accounts:,}", f"{result.legit_events:,}"
    )
    for cid, n in result.campaign_events.items():
        table.add_row(
            f"campaign {cid}", f"{result.campaign_account_counts.get(cid, 0):,}", f"{n:,}"
        )
    table.add_row("total", f"{result.accounts:,}", f"{result.events:,}", style="bold")
    Console().print(table)
    files = result.corpus_files
    skipped = [f for f in files if f.skipped]
    console.print(
        f"corpus: {len(files)} files, {sum(f.read for f in files):,} records read, "
        f"{sum(f.used for f in files):,} used, {sum(f.skipped for f in files):,} skipped"
    )
    for f in skipped[:10]:
        msg = f"  skipped {f.skipped:,} of {f.read:,}: {f.first_skipped}"
        console.print(msg, style="yellow", markup=False, soft_wrap=True)
    if len(skipped) > 10:
        console.print(
            f"  ... and {len(skipped) - 10} more files with skipped records", style="yellow"
        )
    rate = result.events / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"{result.seconds:.1f} s ({rate:,.0f} events/s) -> {result.events_path}, "
        f"{result.labels_path.name}, {result.manifest_path.name}"
    )
