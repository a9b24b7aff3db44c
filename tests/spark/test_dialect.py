"""DuckDB -> Spark SQL translation rules (no JVM needed)."""

from __future__ import annotations

import pytest

from distillguard.errors import StoreError
from distillguard.spark.dialect import classify, portability_issues, to_spark


def test_epoch_keeps_fractional_seconds() -> None:
    assert "UNIX_MICROS(ts) / 1000000.0D" in to_spark("SELECT epoch(ts) FROM t")


def test_decimal_literals_become_doubles_integers_stay() -> None:
    out = to_spark("SELECT avg(CASE WHEN x THEN 1.0 ELSE 0.0 END), count(*) / 24.0, 3 FROM t")
    assert "1.0D" in out and "0.0D" in out and "24.0D" in out and ", 3 FROM" in out


def test_range_table_gets_duckdb_column_name() -> None:
    out = to_spark("SELECT range AS off FROM range(1, 4)")
    assert "SELECT id AS range FROM RANGE(1, 4)" in out


def test_classify_create_drop_insert_and_empty_table() -> None:
    c = classify("CREATE OR REPLACE TEMP TABLE x AS SELECT 1 AS a")
    assert (c.action, c.name, c.kind) == ("create", "x", "table")
    v = classify("CREATE OR REPLACE TEMP VIEW v AS SELECT * FROM x")
    assert (v.action, v.kind) == ("create", "view")
    e = classify("CREATE TABLE s (rowid_ BIGINT, lang VARCHAR)")
    assert (e.action, e.sql) == ("create_empty", "rowid_ BIGINT, lang STRING")
    assert classify("INSERT INTO s SELECT * FROM b").action == "insert"
    d = classify("DROP VIEW IF EXISTS v")
    assert (d.action, d.name, d.kind) == ("drop", "v", "view")
    assert classify("SELECT 1").action == "query"


def test_hash_is_reported_as_non_portable() -> None:
    assert portability_issues("SELECT hash(a || 'x') FROM t")[0].startswith("hash:")
    assert portability_issues("SELECT md5(a) FROM t") == []


def test_bad_sql_names_the_statement() -> None:
    with pytest.raises(StoreError, match="SELEC FROM"):
        to_spark("SELEC FROM WHERE (")
