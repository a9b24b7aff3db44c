"""The event lake: validated events as Parquet files partitioned by day, for any engine.

Layout (Hive-style, read by DuckDB ``read_parquet(..., hive_partitioning = true)``, Spark
``spark.read.parquet(LAKE)``, Trino, Polars, ...)::

    LAKE/day=2026-01-05/part-<run>-00000.parquet
    LAKE/day=2026-01-06/part-<run>-00000.parquet
    LAKE/_quarantine.jsonl           (ignored by readers: names starting with _ or .)

Each file holds the stored columns of :data:`distillguard.events.ARROW_SCHEMA` (``day`` lives
only in the folder name), zstd-compressed, sorted by ``account_id, ts``. An event's day is
the UTC date of its ``ts``, so an event always lands in the same partition.

Re-ingest is idempotent on ``event_id``: the first time a run touches a day, the
``event_id`` column of that day's existing files is loaded into an index (an embedded DuckDB
table, so hundreds of millions of ids stay off the Python heap), and rows already present,
or repeated inside the run, are counted as duplicates and not written. Files are written to
a hidden temporary name and renamed, so a reader never sees a partial file; a run that dies
leaves complete files only (re-running it then skips what they hold).
"""
# ruff: noqa: S608  -- identifiers are fixed; paths are quoted.

from __future__ import annotations

import os
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillguard.errors import StoreError
from distillguard.events.schema import ARROW_SCHEMA, COLUMN_NAMES
from distillguard.store.base import WriteResult

#: The partition column (folder ``day=YYYY-MM-DD``).
PARTITION = "day"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lake_days(root: str | Path) -> list[str]:
    """The partitions (``YYYY-MM-DD``) present in a lake, sorted."""
    p = Path(root)
    if not p.is_dir():
        return []
    return sorted(
        d.name.split("=", 1)[1]
        for d in p.iterdir()
        if d.is_dir() and d.name.startswith(PARTITION + "=") and any(d.glob("*.parquet"))
    )


def lake_glob(root: str | Path, day: str | None = None) -> str:
    """``LAKE/**/*.parquet`` (or one day's files) for ``read_parquet``."""
    base = Path(root)
    if day is not None:
        return str(base / f"{PARTITION}={day}" / "*.parquet")
    return str(base / "**" / "*.parquet")


def lake_select_sql(root: str | Path, *, since: str | None = None, until: str | None = None) -> str:
    """A DuckDB SELECT of the stored columns of a lake, optionally for days in a range.

    ``since``/``until`` are inclusive ``YYYY-MM-DD`` bounds on the partition (pruned: other
    days' files are not opened). The result has exactly the columns of ``ARROW_SCHEMA``.
    """
    where = []
    if since:
        where.append(f"{PARTITION} >= {_q(since)}")
    if until:
        where.append(f"{PARTITION} <= {_q(until)}")
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    cols = ", ".join(COLUMN_NAMES)
    return (
        f"SELECT {cols} FROM read_parquet({_q(lake_glob(root))}, hive_partitioning = true, "
        f"hive_types = {{'{PARTITION}': VARCHAR}}){cond}"
    )


class LakeStore:
    """A :class:`~distillguard.store.Store` that appends events to an event lake.

    Args:
        root: the lake folder (created).
        rows_per_file: rows buffered per day before a file is written (bounds memory and
            sets the file size: ~1M rows is ~100-300 MB with text, ~30 MB without).
    """

    name: ClassVar[str] = "lake"

    def __init__(self, root: str | Path, *, rows_per_file: int = 1_000_000) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: the lake must be a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self.rows_per_file = max(int(rows_per_file), 1)
        self.run_id = uuid.uuid4().hex[:12]
        self._seq = 0
        self._loaded: set[str] = set()
        self._buffers: dict[str, list[pa.Table]] = defaultdict(list)
        self._buffered: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.files_written: list[Path] = []
        try:
            self._index = duckdb.connect()
            self._index.execute("CREATE TABLE ids (event_id VARCHAR)").fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{self.root}: cannot open the event_id index: {exc}") from exc

    def _load_day(self, day: str) -> None:
        folder = self.root / f"{PARTITION}={day}"
        self._loaded.add(day)
        if not any(folder.glob("*.parquet")):
            return
        try:
            self._index.execute(
                "INSERT INTO ids SELECT event_id FROM read_parquet("
                + _q(lake_glob(self.root, day))
                + ")"
            ).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{folder}: cannot read existing event ids: {exc}") from exc

    def write(self, batch: pa.Table) -> WriteResult:
        """Buffer the rows of ``batch`` whose ``event_id`` the lake does not hold yet."""
        if batch.num_rows == 0:
            return WriteResult(0, 0)
        batch = batch.select(list(COLUMN_NAMES)).cast(ARROW_SCHEMA)
        days = pc.strftime(batch.column("ts"), format="%Y-%m-%d")
        with self._lock:
            for day in pc.unique(days).to_pylist():
                if day is None:
                    raise StoreError(f"{self.root}: an event without ts cannot be partitioned")
                if day not in self._loaded:
                    self._load_day(str(day))
            tagged = batch.append_column("_day", days).append_column(
                "_row", pa.array(range(batch.num_rows), pa.int64())
            )
            try:
                self._index.register("_batch", tagged)
                new = self._index.sql(
                    "SELECT b.* FROM (SELECT * FROM _batch QUALIFY row_number() OVER "
                    "(PARTITION BY event_id ORDER BY ts, _row) = 1) b "
                    "ANTI JOIN ids i ON i.event_id = b.event_id ORDER BY b._row"
                ).to_arrow_table()
                self._index.register("_new", new.select(["event_id"]))
                self._index.execute("INSERT INTO ids SELECT event_id FROM _new").fetchall()
                self._index.unregister("_new")
            except duckdb.Error as exc:
                raise StoreError(f"{self.root}: de-duplicating a batch failed: {exc}") from exc
            finally:
                self._index.unregister("_batch")
            for day in pc.unique(new.column("_day")).to_pylist():
                part = new.filter(pc.equal(new.column("_day"), day)).select(list(COLUMN_NAMES))
                self._buffers[str(day)].append(part)
                self._buffered[str(day)] += part.num_rows
                if self._buffered[str(day)] >= self.rows_per_file:
                    self._flush(str(day))
        return WriteResult(new.num_rows, batch.num_rows - new.num_rows)

    def _flush(self, day: str) -> None:
        parts = self._buffers.pop(day, [])
        self._buffered.pop(day, None)
        if not parts:
            return
        table = pa.concat_tables(parts).sort_by([("account_id", "ascending"), ("ts", "ascending")])
        folder = self.root / f"{PARTITION}={day}"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{self.run_id}-{self._seq:05d}.parquet"
        tmp = folder / f".{final.name}.tmp"
        self._seq += 1
        try:
            pq.write_table(table, tmp, compression="zstd", row_group_size=128 * 1024)
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{final}: cannot write: {exc}") from exc
        self.files_written.append(final)

    def flush(self) -> None:
        """Write every buffered day to its partition."""
        with self._lock:
            for day in sorted(self._buffers):
                self._flush(day)

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``query`` over the lake's committed files, visible as table ``events``."""
        self.flush()
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'").fetchall()
            con.execute(
                "CREATE VIEW events AS "
                + (lake_select_sql(self.root) if lake_days(self.root) else _empty_select())
            ).fetchall()
            return con.sql(query, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"{self.root}: query failed: {exc}") from exc
        finally:
            con.close()

    def execute(self, statement: str, params: list[Any] | None = None) -> None:
        """The lake holds events only (side tables live in the scan's DuckDB file)."""
        raise NotImplementedError("the event lake holds events only")

    def close(self) -> None:
        """Write what is buffered and release the index."""
        self.flush()
        self._index.close()

    def __enter__(self) -> LakeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _empty_select() -> str:
    from distillguard.events.schema import COLUMNS

    return "SELECT " + ", ".join(f"CAST(NULL AS {c.sql}) AS {c.name}" for c in COLUMNS) + " LIMIT 0"
