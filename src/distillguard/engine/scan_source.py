"""Where a scan reads its events and runs its SQL: the store, a lake, DuckDB or Spark."""
# ruff: noqa: S608  -- fixed identifiers (the stored column names), no data in the SQL.

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillguard.engine.base import Engine
from distillguard.engine.compat import EngineConnection
from distillguard.errors import ConfigError
from distillguard.events.schema import COLUMN_NAMES

#: The view a scan reads when its events come from a lake or are shipped to another engine.
SOURCE = "scan_events"


def open_scan_engine(
    name: str, store_con: Any, lake: Path | None
) -> tuple[Engine | None, Any, str]:
    """Return ``(engine, con, source)`` for a scan.

    ``con`` is what the detection stages are given (a DuckDB connection, or an
    :class:`EngineConnection`) and ``source`` the table or view holding the events.

    - ``duckdb`` without a lake: the store's own connection and ``events`` (no engine).
    - ``duckdb`` with a lake: the store's connection and a view over the lake's files.
    - ``spark``: a Spark engine; events from the lake (read by the executors) or, without
      a lake, the store's events shipped to Spark (small data only: use a lake at scale).

    Raises:
        ConfigError: unknown engine name.
    """
    if name == "duckdb":
        if lake is None:
            return None, store_con, "events"
        from distillguard.ingest.lake import lake_select_sql

        store_con.execute(
            f"CREATE OR REPLACE TEMP VIEW {SOURCE} AS {lake_select_sql(lake)}"
        ).fetchall()
        return None, store_con, SOURCE
    if name != "spark":
        raise ConfigError(f"unknown engine {name!r}; choose duckdb or spark")
    from distillguard.spark.engine import SparkEngine

    eng = SparkEngine()
    if lake is not None:
        eng.register_parquet("lake_files", lake)
        eng.create(SOURCE, "SELECT " + ", ".join(COLUMN_NAMES) + " FROM lake_files", kind="view")
    else:
        eng.register_arrow(SOURCE, store_con.sql("SELECT * FROM events").to_arrow_table())
    return eng, EngineConnection(eng), SOURCE
