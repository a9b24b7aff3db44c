"""Record the SQL a DuckDB-bound function runs, and replay it on any :class:`Engine`.

Functions of the detection pipeline take a DuckDB connection (``con``).
:class:`RecordingConnection` stands in for it: it forwards every call to a real DuckDB
connection and keeps, in order, what was run (statements, queries with their results, Arrow
tables registered). :func:`replay` runs the same log on another engine, so the exact SQL of
the pipeline can be checked and timed there without a copy of it. This is a tool for parity
tests and benchmarks; a scan on Spark routes its stages through the engine directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from distillguard.engine.base import Engine
from distillguard.errors import StoreError

#: Queries that read DuckDB's own catalog: an engine answers them with tables()/columns().
CATALOG_MARKERS = ("information_schema", "SHOW TABLES", "duckdb_")


@dataclass
class Op:
    """One recorded call: ``execute``, ``query``, ``register``, ``unregister``, ``executemany``."""

    kind: str
    sql: str = ""
    params: list[Any] = field(default_factory=list)
    table: pa.Table | None = None
    result: pa.Table | None = None
    name: str = ""

    @property
    def catalog(self) -> bool:
        """Whether the query reads DuckDB's catalog (engine-specific, not replayed)."""
        return any(m.lower() in self.sql.lower() for m in CATALOG_MARKERS)


class _Result:
    """What ``execute`` returns: only ``fetchall`` is used by the pipeline."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def fetchall(self) -> list[Any]:
        """The rows, as DuckDB returned them."""
        return self._rows


class _Relation:
    """What ``sql`` returns: a lazy query."""

    def __init__(self, rec: RecordingConnection, sql: str, params: list[Any]) -> None:
        self._rec, self._sql, self._params = rec, sql, params

    def to_arrow_table(self) -> pa.Table:
        """Run the query (recording it) and return Arrow."""
        t: pa.Table = self._rec.con.sql(self._sql, params=self._params or None).to_arrow_table()
        self._rec.ops.append(Op("query", self._sql, self._params, result=t))
        return t

    def to_arrow_reader(self, batch_size: int) -> Any:
        """Run the query (recording it) and return an iterator of batches."""
        t = self.to_arrow_table()
        return iter(t.to_batches(max_chunksize=batch_size))

    @property
    def columns(self) -> list[str]:
        """Column names of the query."""
        return list(self._rec.con.sql(self._sql, params=self._params or None).columns)


class RecordingConnection:
    """A DuckDB connection that records what it runs (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.ops: list[Op] = []

    def execute(self, sql: str, params: Any = None) -> _Result:
        """Run and record a statement or query."""
        params = list(params or [])
        rel = self.con.execute(sql, params)
        rows = rel.fetchall()
        head = sql.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "WITH", "SHOW"):
            res = (
                None
                if head == "SHOW"
                else self.con.sql(sql, params=params or None).to_arrow_table()
            )
            self.ops.append(Op("query", sql, params, result=res))
        else:
            self.ops.append(Op("execute", sql, params))
        return _Result(rows)

    def executemany(self, sql: str, rows: Any) -> None:
        """Run and record a statement once per row."""
        self.con.executemany(sql, rows)
        self.ops.append(Op("executemany", sql, [list(r) for r in rows]))

    def sql(self, sql: str, params: Any = None) -> _Relation:
        """A lazy query; it is recorded when its result is read."""
        return _Relation(self, sql, list(params or []))

    def register(self, name: str, table: pa.Table) -> None:
        """Register (and record) an Arrow table."""
        self.con.register(name, table)
        self.ops.append(Op("register", name=name, table=table))

    def unregister(self, name: str) -> None:
        """Unregister (and record) an Arrow table."""
        self.con.unregister(name)
        self.ops.append(Op("unregister", name=name))

    def cursor(self) -> RecordingConnection:
        """This connection (so that reads through a cursor are recorded too)."""
        return self

    def close(self) -> None:
        """The cursor returned by :meth:`cursor` is this object; closing it is a no-op."""


@dataclass
class Replay:
    """What a replay did: queries compared (sql, DuckDB result, engine result), catalog
    queries skipped, statements executed."""

    compared: list[tuple[str, pa.Table, pa.Table]] = field(default_factory=list)
    catalog: list[str] = field(default_factory=list)
    executed: int = 0


def replay(ops: list[Op], engine: Engine, timer: dict[str, float] | None = None) -> Replay:
    """Run the recorded operations on ``engine`` (which must already hold the inputs).

    Queries are run and their results kept beside DuckDB's for comparison; catalog queries
    are listed, not run. ``timer`` (if given) accumulates seconds per created table name.

    Raises:
        StoreError: a statement failed on ``engine``.
    """
    out = Replay()
    for op in ops:
        if op.kind == "register":
            if op.table is None:
                raise StoreError(f"register {op.name}: no table recorded")
            engine.register_arrow(op.name, op.table)
        elif op.kind == "unregister":
            engine.drop(op.name)
        elif op.kind == "execute":
            t0 = time.perf_counter()
            engine.execute(op.sql, op.params)
            if timer is not None:
                key = _target(op.sql)
                timer[key] = timer.get(key, 0.0) + time.perf_counter() - t0
            out.executed += 1
        elif op.kind == "query" and op.catalog:
            out.catalog.append(op.sql)
        elif op.kind == "query":
            if op.result is None:
                raise StoreError(f"query without a recorded result: {op.sql[:80]}")
            out.compared.append((op.sql, op.result, engine.arrow(op.sql, op.params)))
        else:
            raise StoreError(f"cannot replay {op.kind}: {op.sql[:80]}")
    return out


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 9)
    return v


def _target(sql: str) -> str:
    words = sql.split()
    for i, w in enumerate(words):
        if w.upper() in ("TABLE", "VIEW", "INTO") and i + 1 < len(words):
            nxt = words[i + 1]
            if nxt.upper() in ("IF", "EXISTS") and i + 3 < len(words):
                nxt = words[i + 3]
            return nxt.split("(")[0]
    return words[0].lower() if words else ""


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples (floats rounded to 1e-9), to compare results of two engines."""
    rows = [tuple(_norm(v) for v in r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple((x is None, str(x)) for x in r))
