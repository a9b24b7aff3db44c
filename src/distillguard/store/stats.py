"""What is in a store: counts, time span, models, most shared prompt templates, ingest runs.

Everything is computed in SQL (portable: no DuckDB-only functions) so the same queries run
on any store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from distillguard.errors import StoreError
from distillguard.store.base import Store

#: Longest example prompt shown per template.
EXAMPLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class TemplateStat:
    """One prompt digest shared by many accounts (the same prompt text, exactly)."""

    prompt_digest: str
    accounts: int
    events: int
    example: str | None


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One row of ``ingest_runs``."""

    run_id: str
    started_at: datetime | None
    finished_at: datetime | None
    read: int
    accepted: int
    duplicates: int
    quarantined: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """The summary ``distillguard stats`` prints."""

    events: int
    accounts: int
    orgs: int
    first_ts: datetime | None
    last_ts: datetime | None
    models: tuple[tuple[str, int], ...]
    templates: tuple[TemplateStat, ...]
    ingest_runs: tuple[IngestRun, ...]


def _rows(store: Store, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return list(store.sql(query, params).to_pylist())


def store_stats(store: Store, *, top: int = 10, runs: int = 10) -> StoreStats:
    """Summarise ``store``: ``top`` models and templates, the last ``runs`` ingest runs."""
    head = _rows(
        store,
        "SELECT count(*) AS events, count(DISTINCT account_id) AS accounts, "
        "count(DISTINCT org_id) AS orgs, min(ts) AS first_ts, max(ts) AS last_ts FROM events",
    )[0]
    models = _rows(
        store,
        "SELECT coalesce(model, '(none)') AS model, count(*) AS n FROM events "
        "GROUP BY 1 ORDER BY n DESC, model LIMIT ?",
        [top],
    )
    templates = _rows(
        store,
        "SELECT prompt_digest, count(DISTINCT account_id) AS accounts, count(*) AS events, "
        "min(prompt_text) AS example FROM events WHERE prompt_digest IS NOT NULL "
        "GROUP BY prompt_digest ORDER BY accounts DESC, events DESC, prompt_digest LIMIT ?",
        [top],
    )
    try:
        run_rows = _rows(
            store,
            "SELECT run_id, started_at, finished_at, read, accepted, duplicates, quarantined "
            "FROM ingest_runs ORDER BY started_at DESC LIMIT ?",
            [runs],
        )
    except (StoreError, duckdb.Error):  # a store without side tables (the in-memory fake)
        run_rows = []
    return StoreStats(
        events=int(head["events"]),
        accounts=int(head["accounts"]),
        orgs=int(head["orgs"]),
        first_ts=head["first_ts"],
        last_ts=head["last_ts"],
        models=tuple((str(r["model"]), int(r["n"])) for r in models),
        templates=tuple(
            TemplateStat(
                prompt_digest=str(r["prompt_digest"]),
                accounts=int(r["accounts"]),
                events=int(r["events"]),
                example=_short(r["example"]),
            )
            for r in templates
        ),
        ingest_runs=tuple(IngestRun(**r) for r in run_rows),
    )


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXAMPLE_CHARS else flat[: EXAMPLE_CHARS - 1] + "…"
