"""``distillguard stats``: what is in the store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from distillguard.config import load_section
from distillguard.errors import DistillguardError
from distillguard.store.base import StoreConfig
from distillguard.store.duckdb_store import DuckDBStore
from distillguard.store.stats import StoreStats, store_stats


def render_stats(stats: StoreStats, console: Console) -> None:
    """Print a summary and one table each for models, templates and ingest runs."""
    span = (
        f"{stats.first_ts:%Y-%m-%d %H:%M:%S} .. {stats.last_ts:%Y-%m-%d %H:%M:%S} UTC"
        if stats.first_ts and stats.last_ts
        else "-"
    )
    summary = Table(show_header=False, title="store", title_justify="left")
    for name, value in (
        ("events", f"{stats.events:,}"),
        ("accounts", f"{stats.accounts:,}"),
        ("orgs", f"{stats.orgs:,}"),
        ("time span", span),
    ):
        summary.add_row(name, value)
    console.print(summary)
    models = Table(title="models", title_justify="left")
    models.add_column("model")
    models.add_column("events", justify="right")
    for model, n in stats.models:
        models.add_row(model, f"{n:,}")
    console.print(models)
    templates = Table(title="top prompt templates (by distinct accounts)", title_justify="left")
    for col in ("prompt_digest", "accounts", "events", "example"):
        templates.add_column(col, justify="right" if col in ("accounts", "events") else "left")
    for t in stats.templates:
        templates.add_row(
            t.prompt_digest, f"{t.accounts:,}", f"{t.events:,}", t.example or "(text not kept)"
        )
    console.print(templates)
    runs = Table(title="ingest runs (latest first)", title_justify="left")
    for col in ("run", "started (UTC)", "read", "accepted", "duplicates", "quarantined"):
        runs.add_column(col, justify="left" if col in ("run", "started (UTC)") else "right")
    for r in stats.ingest_runs:
        started = f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "-"
        runs.add_row(
            r.run_id[:12],
            started,
            f"{r.read:,}",
            f"{r.accepted:,}",
            f"{r.duplicates:,}",
            f"{r.quarantined:,}",
        )
    console.print(runs)


@click.command(
    "stats", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    help="DuckDB file [default: [store] db, else ./distillguard.duckdb].",
)
@click.option("--top", default=10, show_default=True, help="Models and templates to list.")
def stats(db: Path | None, top: int) -> None:
    """Show what is in the store: events, accounts, orgs, time span, models, prompt
    templates shared by the most accounts, and past ingest runs.

    The database is opened read-only. Prompt examples appear only when text was kept
    (ingest --keep-text).

    \b
    Examples:
      distillguard stats --db dg.duckdb
      distillguard stats --top 25
    """
    try:
        cfg = load_section("store", StoreConfig)
        path = db if db is not None else cfg.db
        if not path.is_file():
            raise DistillguardError(f"{path}: no store here; run `distillguard ingest` first")
        with DuckDBStore(path, read_only=True) as store:
            result = store_stats(store, top=top)
    except DistillguardError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    render_stats(result, Console())
