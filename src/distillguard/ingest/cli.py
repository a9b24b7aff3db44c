"""``distillguard ingest``: read logs into the store and report the counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from distillguard.config import load_section
from distillguard.errors import DistillguardError
from distillguard.ingest.config import IngestConfig
from distillguard.ingest.registry import READERS
from distillguard.ingest.run import IngestReport, ingest_paths
from distillguard.store import StoreConfig, open_store


def default_quarantine(db: Path) -> Path:
    """``events.duckdb`` -> ``events.quarantine.jsonl`` in the same folder."""
    return db.with_name(db.stem + ".quarantine.jsonl")


def _open_target(store_cfg: StoreConfig, db: Path, lake: Path | None) -> Any:
    """The DuckDB store, or the event lake when ``--lake`` is given."""
    if lake is not None:
        from distillguard.ingest.lake import LakeStore

        return LakeStore(lake)
    return open_store(store_cfg, db=db)


def render_report(report: IngestReport, console: Console) -> None:
    """Print the per-file and total counts as a table, then problems."""
    table = Table(title="ingest", title_justify="left")
    for col in ("source", "format", "read", "accepted", "duplicates", "quarantined"):
        table.add_column(col, justify="left" if col in ("source", "format") else "right")
    for s in report.sources:
        name = s.path + (f"  ({s.note})" if s.note else "")
        table.add_row(
            name,
            s.format,
            f"{s.read:,}",
            f"{s.accepted:,}",
            f"{s.duplicates:,}",
            f"{s.quarantined:,}",
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        f"{report.read:,}",
        f"{report.accepted:,}",
        f"{report.duplicates:,}",
        f"{report.quarantined:,}",
        style="bold",
    )
    console.print(table)
    console.print(
        f"{report.elapsed_s:.2f} s, {report.events_per_s:,.0f} records/s", highlight=False
    )
    # Problems go to stderr unwrapped, one per line, so that they can be grepped.
    for r in report.rejected_sources:
        click.echo(f"unusable input: {r.path}: {r.reason}", err=True)
    if report.quarantined:
        where = report.quarantine_path or "nowhere (no quarantine file given)"
        click.echo(f"{report.quarantined:,} record(s) quarantined to {where}", err=True)
        for line in report.samples[:5]:
            click.echo(f"  {line}", err=True)


@click.command(
    "ingest",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    help="DuckDB file [default: [store] db, else ./distillguard.duckdb].",
)
@click.option(
    "--lake",
    "--out",
    "lake",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write an event lake instead: Parquet partitioned by day (LAKE/day=YYYY-MM-DD/); "
    "--out is another name for it.",
)
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *READERS]),
    help="Input format; auto detects it per file.",
)
@click.option("--keep-text", is_flag=True, default=None, help="Store prompt and answer text.")
@click.option(
    "--quarantine",
    type=click.Path(path_type=Path),
    help="Append rejected records here [default: <db name>.quarantine.jsonl].",
)
@click.option(
    "--batch-output",
    type=click.Path(path_type=Path),
    help="OpenAI batch output file to join with the requests files in PATHS.",
)
@click.option("--account-id", help="Account for inputs that name none (batch files, spans).")
@click.option(
    "--account-attribute",
    "account_attributes",
    multiple=True,
    help="OTel attribute naming the account (repeatable) [default: enduser.id, user.id].",
)
@click.option("--max-text-chars", type=int, help="Longest accepted text [default: 1,000,000].")
@click.option("--workers", type=int, help="Decoding processes for big JSONL (0 = per CPU).")
@click.option(
    "--fast-path/--no-fast-path",
    default=None,
    help="Block fast path for canonical JSONL; --no-fast-path forces the per-line path "
    "(same stored rows) [default: [ingest] fast_path, else on].",
)
@click.option("--strict", is_flag=True, help="Exit 1 when anything was quarantined or unusable.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a TTY].")
def ingest(
    paths: tuple[Path, ...],
    db: Path | None,
    lake: Path | None,
    fmt: str,
    keep_text: bool | None,
    quarantine: Path | None,
    batch_output: Path | None,
    account_id: str | None,
    account_attributes: tuple[str, ...],
    max_text_chars: int | None,
    workers: int | None,
    fast_path: bool | None,
    strict: bool,
    progress: bool | None,
) -> None:
    """Read logs into the store; bad records are quarantined, never fatal.

    PATHS are files or directories (read recursively, files in sorted order, hidden files
    skipped); gzip and zstd are decompressed transparently. Formats: canonical JSONL,
    Parquet (flat or nested), OpenAI Batch API files, OpenTelemetry GenAI spans (OTLP JSON).
    Re-ingesting the same data is harmless: events are de-duplicated on event_id.

    Exit status: 0 done; 1 with --strict when something was quarantined or a path was
    unusable; 2 when nothing could be read.

    \b
    Examples:
      distillguard ingest logs/2026-01-*.jsonl.gz --db dg.duckdb
      distillguard ingest exports/ --format parquet --keep-text
      distillguard ingest batch_requests.jsonl --batch-output batch_output.jsonl \\
          --account-id acct-42
      distillguard ingest traces.otlp.json --account-attribute enduser.id --strict
      distillguard ingest logs/ --lake lake/ --keep-text
    """
    try:
        store_cfg = load_section("store", StoreConfig)
        cfg = load_section("ingest", IngestConfig)
        db_path = db if db is not None else store_cfg.db
        qpath = quarantine or cfg.quarantine or default_quarantine(db_path)
        if lake is not None and not (quarantine or cfg.quarantine):
            qpath = lake / "_quarantine.jsonl"
        options: dict[str, object] = {
            "account_id": account_id or cfg.account_id,
            "account_attributes": account_attributes or cfg.account_attributes,
            "workers": workers if workers is not None else cfg.workers,
            "fast_path": fast_path if fast_path is not None else cfg.fast_path,
            "sql_checks": cfg.sql_checks,
            "direct_writes": cfg.direct_writes,
        }
        if batch_output is not None:
            options["batch_output"] = batch_output
        console = Console(stderr=False)
        show = progress if progress is not None else console.is_terminal
        with _open_target(store_cfg, db_path, lake) as store:
            report = ingest_paths(
                list(paths),
                store,
                fmt=fmt,
                keep_text=keep_text if keep_text is not None else store_cfg.keep_text,
                quarantine=qpath,
                batch_size=cfg.batch_size,
                max_text_chars=max_text_chars or cfg.max_text_chars,
                progress=show,
                **options,
            )
    except DistillguardError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    render_report(report, console)
    if not report.usable:
        click.echo("error: nothing could be read from the given paths", err=True)
        raise click.exceptions.Exit(2)
    if strict and (report.quarantined or report.rejected_sources):
        raise click.exceptions.Exit(1)
