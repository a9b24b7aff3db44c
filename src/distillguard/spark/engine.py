"""The Spark engine: the scan's SQL on Apache Spark (local mode or any cluster).

Every statement arrives in DuckDB's dialect and is translated by
:mod:`distillguard.spark.dialect`. Spark has no temporary tables, so a ``table`` is a
DataFrame kept by the executors (see ``[spark] materialize``) and published as a temporary
view under its name; a ``view`` is a temporary view of the query. Per-request functions run
on the executors through ``mapInArrow``.
"""
# ruff: noqa: S608  -- table names pass quote_ident; queries come from the pipeline, not data.

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from distillguard.config import load_section
from distillguard.engine.base import BatchFn, Kind, Relation, quote_ident
from distillguard.errors import StoreError
from distillguard.spark.config import SparkConfig
from distillguard.spark.dialect import classify, to_spark
from distillguard.spark.session import start_session


def _map_iter(fn: BatchFn, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    # Module level so that the function Spark pickles for its executors is small.
    for rb in batches:
        out = fn(rb)
        if out.num_rows:
            yield out


def _parquet_path(path: str | Path) -> str:
    p = str(path)
    return p[: -len("/**/*.parquet")] if p.endswith("/**/*.parquet") else p


class SparkEngine:
    """Runs the pipeline's SQL on a SparkSession.

    Args:
        config: ``[spark]`` settings; None reads the ``[spark]`` section (file and
            ``DISTILLGUARD_SPARK_*`` environment), whose defaults run ``local[2]``.
        session: a SparkSession to use (e.g. the one ``spark-submit`` or a notebook made);
            None starts one from ``config`` (or joins the active one).
    """

    name: ClassVar[str] = "spark"

    def __init__(self, config: SparkConfig | None = None, *, session: Any = None) -> None:
        self.config = config or load_section("spark", SparkConfig)
        self.spark = session if session is not None else start_session(self.config)
        self._frames: dict[str, Any] = {}
        self._work: Path | None = None

    # -- helpers ---------------------------------------------------------------------------

    def _sql(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        try:
            return self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)
        except Exception as exc:  # pyspark's AnalysisException etc. share no public base
            raise StoreError(f"spark: {exc}\n  in: {sql.strip()[:300]}") from exc

    def _work_dir(self) -> str:
        if self.config.work_dir:
            return self.config.work_dir.rstrip("/")
        if self._work is None:
            self._work = Path(tempfile.mkdtemp(prefix="distillguard-spark-"))
        return str(self._work)

    def _publish(self, name: str, df: Any, kind: Kind) -> Relation:
        self.drop(name)
        if kind == "table":
            how = self.config.materialize
            try:
                if how == "cache":
                    df = df.cache()
                    df.count()
                elif how == "parquet":
                    path = f"{self._work_dir()}/{name}"
                    df.write.mode("overwrite").parquet(path)
                    df = self.spark.read.parquet(path)
                else:
                    df = df.localCheckpoint(eager=True)
            except Exception as exc:
                raise StoreError(f"spark: computing table {name} failed: {exc}") from exc
        self._frames[name] = df
        df.createOrReplaceTempView(name)
        return Relation(name, kind, tuple(df.columns))

    # -- Engine ----------------------------------------------------------------------------

    def register_arrow(self, name: str, table: pa.Table) -> Relation:
        """Ship ``table`` to Spark (it becomes a cached DataFrame) as view ``name``."""
        quote_ident(name)
        try:
            df = self.spark.createDataFrame(table)
        except Exception as exc:
            raise StoreError(f"spark: cannot load Arrow table {name}: {exc}") from exc
        return self._publish(name, df, "view")

    def register_parquet(self, name: str, path: str | Path, *, hive: bool = True) -> Relation:
        """A view over Parquet files; a folder is read with partition discovery."""
        quote_ident(name)
        reader = self.spark.read
        if not hive:
            reader = reader.option("recursiveFileLookup", "true")
        try:
            df = reader.parquet(_parquet_path(path))
        except Exception as exc:
            raise StoreError(f"spark: cannot read Parquet at {path}: {exc}") from exc
        return self._publish(name, df, "view")

    def create(self, name: str, query: str, *, kind: Kind = "table") -> Relation:
        """Run ``query`` (DuckDB dialect) into table or view ``name``."""
        return self._publish(quote_ident(name), self._sql(to_spark(query)), kind)

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run a DuckDB-dialect statement: CREATE ... AS, CREATE TABLE (cols), INSERT, DROP."""
        st = classify(statement)
        if st.action == "create":
            kind: Kind = "view" if st.kind == "view" else "table"
            self._publish(quote_ident(st.name), self._sql(st.sql, params), kind)
        elif st.action == "create_empty":
            # Nothing to compute: publishing it as is saves a Spark job.
            df = self.spark.createDataFrame([], st.sql)
            self._publish(quote_ident(st.name), df, "view")
        elif st.action == "insert":
            old = self._frames.get(st.name)
            if old is None:
                raise StoreError(f"spark: INSERT INTO {st.name}: no such table")
            self._publish(st.name, old.union(self._sql(st.sql, params)), "table")
        elif st.action == "drop":
            self.drop(st.name)
        else:
            self._sql(st.sql, params).collect()

    def arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run ``query`` and collect the result to the driver as Arrow."""
        df = self._sql(to_spark(query), params)
        try:
            out: pa.Table = df.toArrow()
        except Exception as exc:
            raise StoreError(f"spark: collecting a result failed: {exc}") from exc
        return out

    def map_batches(
        self, name: str, source: str, fn: BatchFn, schema: pa.Schema, *, batch_rows: int = 50_000
    ) -> Relation:
        """``mapInArrow(fn)`` over ``source``; the result is materialised as table ``name``."""
        from pyspark.sql.pandas.types import from_arrow_schema

        self.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(int(batch_rows)))
        src = self.spark.table(quote_ident(source))
        df = src.mapInArrow(functools.partial(_map_iter, fn), from_arrow_schema(schema))
        return self._publish(quote_ident(name), df, "table")

    def drop(self, name: str) -> None:
        """Drop the view and release what the engine kept for it."""
        df = self._frames.pop(quote_ident(name), None)
        if df is not None and self.config.materialize == "cache":
            df.unpersist()
        self.spark.catalog.dropTempView(name)

    def tables(self) -> frozenset[str]:
        """The tables and views this engine holds (each is a temporary view of the session).

        Answered from the engine's own registry: listing the session catalog costs a
        round trip per call (~1 s on a busy machine) and the pipeline asks often.
        """
        return frozenset(self._frames)

    def columns(self, name: str) -> tuple[str, ...]:
        """Column names of ``name``."""
        try:
            return tuple(self.spark.table(quote_ident(name)).columns)
        except Exception as exc:
            raise StoreError(f"spark: no table or view {name!r}: {exc}") from exc

    def close(self) -> None:
        """Drop this engine's views and temporary files; the session stays up for reuse.

        Stop the session with :func:`stop_session` when the process is done with Spark.
        """
        for name in list(self._frames):
            self.drop(name)
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None


def stop_session(engine: SparkEngine) -> None:
    """Close ``engine`` and stop its SparkSession (the JVM stays until the process exits)."""
    engine.close()
    engine.spark.stop()
