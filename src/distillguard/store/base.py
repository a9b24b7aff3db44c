"""The storage seam: a store takes batches of flat events and answers SQL.

To write a new store, implement :class:`Store`: ``write`` appends an Arrow batch in
:data:`distillguard.events.ARROW_SCHEMA` idempotently (an event whose ``event_id`` and ``ts``
are already stored is skipped and counted as a duplicate), ``sql`` runs a portable SQL query
over the tables named in :data:`TABLES`, and ``close`` releases resources. Aggregations belong
in SQL, never in Python loops over rows, so that the same query can run on DuckDB or Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

#: Tables every store provides.
TABLES: tuple[str, ...] = ("events", "decisions", "audit_log", "ingest_runs")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one ``write`` did."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """``[store]`` section.

    Attributes:
        db: DuckDB file; default ``./distillguard.duckdb``.
        keep_text: store prompt and response text (off by default: privacy).
        memory_limit: DuckDB memory limit, e.g. ``"4GB"``; empty for DuckDB's default.
        threads: DuckDB threads; 0 for DuckDB's default (all cores).
    """

    db: Path = Path("distillguard.duckdb")
    keep_text: bool = False
    memory_limit: str = ""
    threads: int = 0


@runtime_checkable
class Store(Protocol):
    """An event store. See the module docstring for how to implement one."""

    name: ClassVar[str]

    def write(self, batch: pa.Table) -> WriteResult:
        """Append a batch of flat events, skipping those whose (event_id, ts) is already stored."""
        ...

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run a read query and return the result as Arrow."""
        ...

    def execute(self, statement: str, params: list[Any] | None = None) -> None:
        """Run a statement that changes state (decisions, audit log)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


@runtime_checkable
class Transactional(Protocol):
    """Optional ability: make several writes and statements land together or not at all."""

    def begin(self) -> None:
        """Start a transaction."""
        ...

    def commit(self) -> None:
        """Commit the open transaction."""
        ...

    def rollback(self) -> None:
        """Abandon the open transaction."""
        ...
