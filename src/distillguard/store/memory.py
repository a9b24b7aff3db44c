"""An in-memory store for unit tests of logic that needs a store but not DuckDB's file."""

from __future__ import annotations

from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from distillguard.events.schema import ARROW_SCHEMA
from distillguard.store.base import WriteResult


class MemoryStore:
    """Keeps batches as Arrow tables; answers SQL through a throwaway DuckDB connection."""

    name: ClassVar[str] = "memory"

    def __init__(self) -> None:
        self._batches: list[pa.Table] = []
        self._ids: set[tuple[str, Any]] = set()
        self._side: dict[str, list[tuple[Any, ...]]] = {}

    def write(self, batch: pa.Table) -> WriteResult:
        # The same key as DuckDBStore: (event_id, ts).
        eids, stamps = batch.column("event_id").to_pylist(), batch.column("ts").to_pylist()
        ids = list(zip(eids, stamps, strict=True))
        keep = []
        for i, eid in enumerate(ids):
            if eid not in self._ids:
                self._ids.add(eid)
                keep.append(i)
        if keep:
            self._batches.append(batch.take(pa.array(keep, type=pa.int64())))
        return WriteResult(len(keep), batch.num_rows - len(keep))

    def events(self) -> pa.Table:
        """All stored events as one Arrow table."""
        if not self._batches:
            return ARROW_SCHEMA.empty_table()
        return pa.concat_tables(self._batches)

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        con = duckdb.connect()
        con.register("events", self.events())
        return con.sql(query, params=params or None).to_arrow_table()

    def execute(self, statement: str, params: list[Any] | None = None) -> None:
        raise NotImplementedError("MemoryStore holds events only; use DuckDBStore(':memory:')")

    def close(self) -> None:
        self._batches.clear()
