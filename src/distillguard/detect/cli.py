"""Command line of detection: ``scan``, ``eval`` and ``rules``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from distillguard.errors import InputError

if TYPE_CHECKING:
    from distillguard.detect.evaluate import DetectionTime


def _parse_until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not RFC 3339 or epoch seconds") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@click.command("scan")
@click.argument("events", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for accounts.csv, campaigns.json and report.html.",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=None,
    help="DuckDB file to ingest into and scan (default DIR/scan.duckdb).",
)
@click.option("--until", default=None, help="Scan only events at or before this time.")
@click.option(
    "--allowlist",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="YAML allow-list (licensed distillation, vetted researchers).",
)
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Extra rules folder.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML configuration file ([detect] and [intel] sections).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where the SQL stages run (spark: [spark] master, local[2] by default).",
)
@click.option(
    "--lake",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Read events from this event lake (distillguard ingest --lake).",
)
@click.option("--show-prompts", is_flag=True, help="Include example prompt text in the report.")
@click.option(
    "--no-text",
    is_flag=True,
    help="Do not store or use prompt text of EVENTS (digests only): privacy mode.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bars on stderr.")
def scan(
    events: tuple[Path, ...],
    out_dir: Path,
    db: Path | None,
    until: str | None,
    allowlist: Path | None,
    rules_dirs: tuple[Path, ...],
    config_path: Path | None,
    engine: str,
    lake: Path | None,
    show_prompts: bool,
    no_text: bool,
    progress: bool | None,
) -> None:
    """Find distillation campaigns in event logs; write accounts.csv, campaigns.json, report.html.

    \b
    Examples:
      distillguard scan sim/events.jsonl --out scan-out
      distillguard scan logs/ --out scan-out --allowlist allow.yaml --rules my-rules/
      distillguard scan --db scan-out/scan.duckdb --until 2025-03-04T12:00:00Z --out replay/
      distillguard scan logs/ --no-text --out scan-out   # privacy mode: no prompt text kept
    """
    from distillguard.config import load_section, read_file
    from distillguard.detect.config import load_detect_config
    from distillguard.detect.scan import run_scan
    from distillguard.intel.config import IntelConfig

    if not events and db is None and lake is None:
        raise InputError("give event files to scan, or --db with an existing store")
    res = run_scan(
        list(events) or None,
        out_dir,
        db=db,
        until=_parse_until(until),
        config=load_detect_config(config_path),
        allowlist=allowlist,
        rules_dirs=rules_dirs,
        progress=sys.stderr.isatty() if progress is None else progress,
        show_prompts=show_prompts,
        engine=engine,
        lake=lake,
        intel_config=load_section("intel", IntelConfig, file_data=read_file(config_path)),
        keep_text=not no_text,
    )
    if res.ingest is not None:
        r = res.ingest
        click.echo(
            f"ingest: {r.read} read, {r.accepted} accepted, {r.duplicates} duplicates, "
            f"{r.quarantined} quarantined"
        )
    v = res.verdicts
    click.echo(
        f"scanned {res.events} events from {res.accounts} accounts in "
        f"{res.timings['total']:.1f}s: {v['campaign']} campaign, {v['suspect']} suspect, "
        f"{v['legit']} legit"
    )
    for c in res.campaigns[:10]:
        tactics = ", ".join(dict.fromkeys(t["name"] for t in c.tactics[:3]))
        click.echo(
            f"  {c.campaign_id}: {len(c.accounts)} accounts, {c.volume} requests, "
            f"risk {c.risk:.2f} ({tactics})"
        )
    if len(res.campaigns) > 10:
        click.echo(f"  ... and {len(res.campaigns) - 10} more")
    if res.unavailable:
        click.echo("unavailable: " + "; ".join(res.unavailable))
    for note in res.notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {res.accounts_csv}, {res.campaigns_json}, {res.report_html}")


@click.command("eval")
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--labels",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="Ground truth: account_id,campaign_id (empty campaign = legitimate).",
)
@click.option(
    "--events",
    "events",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Events (or use RESULTS_DIR/scan.duckdb) to replay for time to detection.",
)
@click.option("--allowlist", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
def eval_cmd(
    results_dir: Path,
    labels: Path,
    events: tuple[Path, ...],
    allowlist: Path | None,
    config_path: Path | None,
) -> None:
    """Measure a scan against labels: precision, recall, FPR, B-cubed, time to detection.

    \b
    Examples:
      distillguard eval --labels sim/labels.csv scan-out
      distillguard eval --labels sim/labels.csv scan-out --events sim/events.jsonl
    """
    from distillguard.detect.config import load_detect_config
    from distillguard.detect.evaluate import detection_times, evaluate, read_labels

    res = evaluate(results_dir, labels)
    click.echo(f"accounts {res.accounts}  campaign accounts {res.positives}")
    click.echo(
        f"precision {res.precision:.4f}  recall {res.recall:.4f}  FPR {res.fpr:.5f}"
        + (f"  heavy-user FPR {res.heavy_fpr:.4f}" if res.heavy_fpr is not None else "")
    )
    click.echo(
        f"B-cubed precision {res.bcubed_precision:.4f}  recall {res.bcubed_recall:.4f}  "
        f"F1 {res.bcubed_f1:.4f}  predicted campaigns {res.predicted_campaigns}"
    )
    ttd: dict[str, DetectionTime] = {}
    if events:
        db = results_dir / "scan.duckdb"
        if not db.exists():
            from distillguard.ingest.run import ingest_paths
            from distillguard.store import DuckDBStore

            with DuckDBStore(db) as store:
                ingest_paths(list(events), store, keep_text=True)
        ttd = detection_times(
            db, read_labels(labels), config=load_detect_config(config_path), allowlist=allowlist
        )
    for c in res.campaigns:
        when = _when(ttd.get(c.campaign_id)) if events else ""
        click.echo(
            f"  {c.campaign_id}: {c.flagged}/{c.accounts} accounts flagged "
            f"({'found' if c.found else 'MISSED'}){when}"
        )
    for note in res.notes:
        click.echo(f"note: {note}")


def _when(t: DetectionTime | None) -> str:
    """Time to detection in words (both moments of :class:`DetectionTime`)."""
    if t is None or (t.campaign is None and t.first_flag is None):
        return "  never flagged"
    if t.campaign is None:
        return f"  an account flagged after {t.first_flag:.1%} of its volume, never as a campaign"
    first = t.first_flag if t.first_flag is not None else t.campaign
    if first < t.campaign:
        return (
            f"  flagged as a campaign after {t.campaign:.1%} of its volume "
            f"(first account flagged after {first:.1%})"
        )
    return f"  flagged as a campaign after {t.campaign:.1%} of its volume"


@click.group("rules")
def rules() -> None:
    """List and test detection rules (built-in plus your own folders).

    \b
    Examples:
      distillguard rules list
      distillguard rules test
      distillguard rules test my-rules/
      distillguard rules features
    """


@rules.command("list")
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Extra rules folder.",
)
def rules_list(rules_dirs: tuple[Path, ...]) -> None:
    """Print every loaded rule: id, level, ATLAS ids, title."""
    from distillguard.detect.ruleset import load_rules

    for r in load_rules(rules_dirs):
        click.echo(f"{r.id:34} {r.level:8} {','.join(r.atlas):30} {r.title}")


@rules.command("features")
def rules_features() -> None:
    """Print every feature a rule condition can name, with what it measures.

    \b
    Example:
      distillguard rules features
    """
    from distillguard.detect.features import FEATURE_DOCS, feature_names
    from distillguard.detect.intel_signal import FEATURES as INTEL_FEATURES

    for name in sorted(feature_names()):
        if name in FEATURE_DOCS:
            what = FEATURE_DOCS[name]
        elif name.startswith("sig_"):
            signal, _, agg = name[4:].rpartition("_")
            what = (
                f"share of requests the {signal} signal scores >= 0.5"
                if agg == "share"
                else f"mean {signal} signal score over the requests"
            )
        elif name in INTEL_FEATURES:
            what = "peer intel (docs/detection.md, 'Peer intel'); null without intel hits"
        else:
            what = "identifier or label (compare with == or in [...])"
        click.echo(f"{name:30} {what}")


@rules.command("test")
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
def rules_test(dirs: tuple[Path, ...]) -> None:
    """Run each rule's own positive and negative cases; exit 1 on any failure.

    With folders, tests the rules in them (and the built-in ones).
    """
    from distillguard.detect.ruleset import load_rules, test_rules

    report = test_rules(load_rules(dirs))
    for f in report.failures:
        want = "match" if f.kind == "positive" else "not match"
        click.echo(
            f"FAIL {f.where}: {f.rule_id} should {want} {f.kind} case {f.index}: {dict(f.case)}"
        )
    click.echo(f"{report.rules} rules, {report.cases} cases, {len(report.failures)} failed")
    if not report.ok:
        raise click.exceptions.Exit(1)
