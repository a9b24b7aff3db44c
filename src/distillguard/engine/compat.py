"""A DuckDB-connection-shaped view of any :class:`Engine`, for code written against DuckDB.

The detection stages take a DuckDB connection ``con`` and use a small part of its API:
``con.execute(sql, params).fetchall()``, ``con.sql(q).to_arrow_table()``,
``con.register(name, arrow)`` / ``con.unregister(name)``, ``con.cursor()``. An
:class:`EngineConnection` offers exactly that over any engine, so the same stage code runs on
Spark by being handed a different ``con``. DuckDB catalog reads (``SHOW TABLES``,
``information_schema.columns`` and ``.tables``) are answered from :meth:`Engine.tables` and
:meth:`Engine.columns`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from distillguard.engine.base import Engine

_COLUMNS_QUERY = re.compile(r"FROM\s+information_schema\.columns", re.IGNORECASE)
_TABLES_REF = re.compile(r"\binformation_schema\.tables\b", re.IGNORECASE)
_CATALOG_VIEW = "_dg_catalog_tables"
_READS = ("SELECT", "WITH", "SHOW", "FROM", "VALUES")


def _tuples(table: pa.Table) -> list[tuple[Any, ...]]:
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*cols, strict=True)) if cols else []


class _Rows:
    """What ``execute`` returns; only ``fetchall`` is offered."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The result rows as tuples (empty for a statement)."""
        return self._rows


class _Query:
    """What ``sql`` returns: a query run when its result is read."""

    def __init__(self, engine: Engine, query: str, params: Sequence[Any] | None) -> None:
        self._engine, self._query, self._params = engine, query, params

    def to_arrow_table(self) -> pa.Table:
        """Run the query; the result as Arrow."""
        return self._engine.arrow(self._query, self._params)

    def to_arrow_reader(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Run the query; the result in batches of exactly ``batch_size`` rows (the last one
        fewer), as DuckDB's reader gives them.

        The engine's own chunks are not kept: Spark's follow its partitions and
        ``spark.sql.execution.arrow.maxRecordsPerBatch``, and template families are assigned
        batch by batch (:class:`~distillguard.detect.templates.FamilyIndex`), so batches of
        another size gave other families than DuckDB's scan of the same events.
        """
        table = self.to_arrow_table()
        step = max(int(batch_size), 1)
        for offset in range(0, table.num_rows, step):
            yield from table.slice(offset, step).combine_chunks().to_batches()

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Run the query; the rows as tuples."""
        return _tuples(self.to_arrow_table())


class EngineConnection:
    """The subset of ``duckdb.DuckDBPyConnection`` the pipeline uses, over ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Rows:
        """Run a statement (result: no rows) or a query (result: its rows)."""
        text = sql.strip()
        head = text.split(None, 1)[0].upper() if text else ""
        if head == "SHOW" and text.upper().startswith("SHOW TABLES"):
            return _Rows([(name,) for name in sorted(self.engine.tables())])
        if _COLUMNS_QUERY.search(text):
            if not params:
                raise ValueError("information_schema.columns needs the table name parameter")
            table = str(list(params)[0])
            if table not in self.engine.tables():
                return _Rows([])
            return _Rows([(c,) for c in self.engine.columns(table)])
        if _TABLES_REF.search(text):
            names = sorted(self.engine.tables() - {_CATALOG_VIEW})
            self.engine.register_arrow(_CATALOG_VIEW, pa.table({"table_name": names}))
            try:
                rows = _tuples(self.engine.arrow(_TABLES_REF.sub(_CATALOG_VIEW, text), params))
            finally:
                self.engine.drop(_CATALOG_VIEW)
            return _Rows(rows)
        if head in _READS:
            return _Rows(_tuples(self.engine.arrow(text, params)))
        self.engine.execute(text, params)
        return _Rows([])

    def sql(self, query: str, params: Sequence[Any] | None = None) -> _Query:
        """A query, run when its result is read."""
        return _Query(self.engine, query, params)

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable as ``name``."""
        self.engine.register_arrow(name, table)

    def unregister(self, name: str) -> None:
        """Forget a registered Arrow table."""
        self.engine.drop(name)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per parameter row."""
        for row in rows:
            self.execute(sql, row)

    def cursor(self) -> EngineConnection:
        """This connection (an engine has no per-cursor state)."""
        return self

    def close(self) -> None:
        """Nothing to release: the engine is closed by its owner."""
