"""The reference engine: an embedded DuckDB connection (the scan's default)."""
# ruff: noqa: S608  -- table names pass quote_ident; queries come from the pipeline, not data.

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from distillguard.engine.base import BatchFn, Kind, Relation, quote_ident
from distillguard.errors import StoreError


def parquet_glob(path: str | Path) -> str:
    """A folder becomes ``folder/**/*.parquet``; a file or a glob is returned as given."""
    p = Path(path)
    if p.is_dir():
        return str(p / "**" / "*.parquet")
    return str(path)


class DuckDBEngine:
    """Runs SQL on a DuckDB connection.

    Args:
        con: a connection to use (not closed by :meth:`close` unless ``owned``); None opens
            ``path``.
        path: DuckDB file, or ``":memory:"`` (the default) for a throwaway database.
        owned: close ``con`` on :meth:`close` (always true when ``con`` is None).
    """

    name: ClassVar[str] = "duckdb"

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        *,
        path: str | Path = ":memory:",
        owned: bool = False,
    ) -> None:
        try:
            self.con = con if con is not None else duckdb.connect(str(path))
            self.con.execute("SET TimeZone = 'UTC'").fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open DuckDB: {exc}") from exc
        self._owned = owned or con is None
        self._registered: dict[str, pa.Table] = {}

    def _run(self, statement: str, params: Sequence[Any] | None = None) -> list[Any]:
        try:
            return self.con.execute(statement, list(params or [])).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"duckdb: {exc}\n  in: {statement.strip()[:300]}") from exc

    def _kind_of(self, name: str) -> str | None:
        if name in self._registered:
            return "registered"
        rows = self._run(
            "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
        )
        if not rows:
            return None
        return "view" if "VIEW" in str(rows[0][0]).upper() else "table"

    def register_arrow(self, name: str, table: pa.Table) -> Relation:
        """Make ``table`` readable as ``name`` without copying it."""
        self.drop(quote_ident(name))
        self.con.register(name, table)
        self._registered[name] = table
        return Relation(name, "view", tuple(table.column_names))

    def register_parquet(self, name: str, path: str | Path, *, hive: bool = True) -> Relation:
        """A view over Parquet files (``read_parquet`` with ``hive_partitioning``)."""
        glob = parquet_glob(path).replace("'", "''")
        hp = "true" if hive else "false"
        return self.create(
            name,
            f"SELECT * FROM read_parquet('{glob}', hive_partitioning = {hp}, union_by_name = true)",
            kind="view",
        )

    def create(self, name: str, query: str, *, kind: Kind = "table") -> Relation:
        """``CREATE OR REPLACE TABLE|VIEW name AS query``."""
        self.drop(quote_ident(name))
        what = "TABLE" if kind == "table" else "VIEW"
        self._run(f"CREATE OR REPLACE {what} {name} AS {query}")
        return Relation(name, kind, self.columns(name))

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement as written."""
        self._run(statement, params)

    def arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run ``query`` and return Arrow."""
        try:
            return self.con.sql(query, params=list(params) if params else None).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"duckdb: {exc}\n  in: {query.strip()[:300]}") from exc

    def map_batches(
        self, name: str, source: str, fn: BatchFn, schema: pa.Schema, *, batch_rows: int = 50_000
    ) -> Relation:
        """A batch loop on the driver: stream ``source`` in batches, keep ``fn``'s output.

        The outputs are gathered before they are written (a connection cannot write while
        it streams a result; a cursor would not see temporary tables), so ``fn`` should
        return much less than it reads (scores, not text).
        """
        self.drop(quote_ident(name))
        outputs: list[pa.RecordBatch] = []
        try:
            if source in self._registered:
                batches: Any = self._registered[source].to_batches(max_chunksize=batch_rows)
            else:
                sql = f"SELECT * FROM {quote_ident(source)}"
                batches = self.con.sql(sql).to_arrow_reader(batch_rows)
            for rb in batches:
                out = fn(rb)
                if out.num_rows:
                    outputs.append(out)
        except duckdb.Error as exc:
            raise StoreError(f"duckdb: reading {source} failed: {exc}") from exc
        self.con.register("_dg_map_out", pa.Table.from_batches(outputs, schema=schema))
        try:
            self._run(f"CREATE TABLE {name} AS SELECT * FROM _dg_map_out")
        finally:
            self.con.unregister("_dg_map_out")
        return Relation(name, "table", tuple(schema.names))

    def drop(self, name: str) -> None:
        """Drop a table, a view or a registered Arrow table called ``name``."""
        kind = self._kind_of(quote_ident(name))
        if kind == "registered":
            self.con.unregister(name)
            self._registered.pop(name, None)
        elif kind == "view":
            self._run(f"DROP VIEW IF EXISTS {name}")
        elif kind == "table":
            self._run(f"DROP TABLE IF EXISTS {name}")

    def tables(self) -> frozenset[str]:
        """Tables and views in the connection's catalog plus registered Arrow tables."""
        rows = self._run("SELECT table_name FROM information_schema.tables")
        return frozenset(str(r[0]) for r in rows) | frozenset(self._registered)

    def columns(self, name: str) -> tuple[str, ...]:
        """Column names of ``name``."""
        try:
            return tuple(self.con.sql(f"SELECT * FROM {quote_ident(name)} LIMIT 0").columns)
        except duckdb.Error as exc:
            raise StoreError(f"duckdb: no table or view {name!r}: {exc}") from exc

    def close(self) -> None:
        """Close the connection when this engine opened it."""
        for name in list(self._registered):
            self.con.unregister(name)
        self._registered.clear()
        if self._owned:
            self.con.close()
