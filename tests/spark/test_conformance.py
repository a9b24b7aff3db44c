"""One conformance suite that every engine runs (DuckDB and Spark local mode)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from distillguard.engine import DuckDBEngine, Engine
from distillguard.engine.recording import rows_of
from distillguard.errors import StoreError


@pytest.fixture(params=["duckdb", "spark"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "duckdb":
        eng = DuckDBEngine()
        yield eng
        eng.close()
    else:
        import sys

        from pyspark import cloudpickle

        # The batch function below lives in a test module that Spark's workers cannot import.
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        yield request.getfixturevalue("spark_engine")


def _events() -> pa.Table:
    t0 = datetime(2026, 1, 5, 23, 59, 58, 250000, tzinfo=UTC)
    ts = [t0.timestamp() + 0.5 * i for i in range(8)]
    return pa.table(
        {
            "account_id": ["a", "a", "b", "b", "b", "c", None, "c"],
            "ts": pa.array([int(x * 1e6) for x in ts], pa.timestamp("us", tz="UTC")),
            "ip": ["10.0.0.1", "10.0.0.2", "10.0.1.9", None, "10.0.1.9", "1.2.3.4", "x", "1.2.3.4"],
            "n": pa.array([1, 2, None, 4, 5, 6, 7, 8], pa.int64()),
        }
    )


def _double(scale: float, rb: pa.RecordBatch) -> pa.RecordBatch:
    n = pc.multiply(rb.column("n").cast(pa.float64()), scale)
    return pa.RecordBatch.from_arrays([rb.column("account_id"), n], names=["account_id", "x"])


def test_register_arrow_roundtrip(engine: Engine) -> None:
    rel = engine.register_arrow("t", _events())
    assert rel.columns == ("account_id", "ts", "ip", "n")
    back = engine.arrow("SELECT account_id, ts, n FROM t ORDER BY n NULLS FIRST")
    assert back.column("n").to_pylist() == [None, 1, 2, 4, 5, 6, 7, 8]
    assert back.column("ts").to_pylist()[1] == datetime(2026, 1, 5, 23, 59, 58, 250000, UTC)


def test_pipeline_functions_agree(engine: Engine) -> None:
    engine.register_arrow("t", _events())
    engine.execute(
        """CREATE OR REPLACE TEMP TABLE agg AS
        SELECT account_id, count(*) AS c, (max(epoch(ts)) - min(epoch(ts))) / 3600.0 AS span_h,
          avg(CASE WHEN n > 2 THEN 1.0 ELSE 0.0 END) AS share,
          count(DISTINCT date_trunc('day', ts)) AS days, count(DISTINCT hour(ts)) / 24.0 AS hrs,
          count(DISTINCT regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1)) AS n24,
          arg_max(ip, n) AS top_ip, stddev_pop(n) AS sd
        FROM t GROUP BY account_id"""
    )
    got = rows_of(engine.arrow("SELECT * FROM agg"))
    assert got == [
        ("a", 2, 0.000138889, 0.0, 1, 0.041666667, 1, "10.0.0.2", 0.5),
        ("b", 3, 0.000277778, 0.666666667, 2, 0.083333333, 1, "10.0.1.9", 0.5),
        ("c", 2, 0.000277778, 1.0, 1, 0.041666667, 1, "1.2.3.4", 1.0),
        (None, 1, 0.0, 1.0, 1, 0.041666667, 1, "x", 0.0),
    ]


def test_window_range_and_views(engine: Engine) -> None:
    engine.register_arrow("t", _events())
    engine.create(
        "ranked",
        "SELECT account_id, n, row_number() OVER (PARTITION BY account_id ORDER BY n DESC) AS r "
        "FROM t WHERE account_id IS NOT NULL",
        kind="view",
    )
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE pairs AS WITH o AS (SELECT range AS off FROM range(1, 3)) "
        "SELECT a.account_id, a.n AS x, b.n AS y FROM ranked a, o "
        "JOIN ranked b ON b.account_id = a.account_id AND b.r = a.r + o.off"
    )
    assert rows_of(engine.arrow("SELECT account_id, x, y FROM pairs")) == [
        ("a", 2, 1),
        ("b", 4, None),
        ("b", 5, 4),
        ("b", 5, None),
        ("c", 8, 6),
    ]
    assert {"ranked", "pairs"} <= engine.tables()
    assert engine.columns("pairs") == ("account_id", "x", "y")
    engine.drop("pairs")
    engine.drop("pairs")  # dropping twice is harmless
    assert "pairs" not in engine.tables()


def test_empty_table_then_insert(engine: Engine) -> None:
    engine.register_arrow("t", _events())
    engine.execute("CREATE TABLE sink (account_id VARCHAR, n BIGINT)")
    engine.execute("INSERT INTO sink SELECT account_id, n FROM t WHERE n > 6")
    engine.execute("INSERT INTO sink SELECT account_id, n FROM t WHERE n = 1")
    assert rows_of(engine.arrow("SELECT * FROM sink")) == [("a", 1), ("c", 8), (None, 7)]


def test_map_batches_runs_a_python_function_per_batch(engine: Engine) -> None:
    engine.register_arrow("t", _events())
    schema = pa.schema([("account_id", pa.string()), ("x", pa.float64())])
    engine.map_batches("mapped", "t", functools.partial(_double, 2.0), schema, batch_rows=3)
    out = engine.arrow("SELECT account_id, sum(x) AS s FROM mapped GROUP BY 1")
    assert rows_of(out) == [("a", 6.0), ("b", 18.0), ("c", 28.0), (None, 14.0)]


def test_register_parquet_lake_with_partitions(engine: Engine, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    ev = _events()
    for day in ("2026-01-05", "2026-01-06"):
        (tmp_path / f"day={day}").mkdir()
        pq.write_table(ev, tmp_path / f"day={day}" / "part-0.parquet")
    engine.register_parquet("lake", tmp_path)
    got = engine.arrow("SELECT CAST(day AS VARCHAR) AS d, count(*) AS c FROM lake GROUP BY 1")
    assert rows_of(got) == [("2026-01-05", 8), ("2026-01-06", 8)]


def test_errors_name_the_statement(engine: Engine) -> None:
    with pytest.raises(StoreError, match="no_such_table"):
        engine.arrow("SELECT * FROM no_such_table")
    with pytest.raises(StoreError, match="invalid table name"):
        engine.create("x; DROP", "SELECT 1")


def test_engine_satisfies_protocol(engine: Any) -> None:
    assert isinstance(engine, Engine)
