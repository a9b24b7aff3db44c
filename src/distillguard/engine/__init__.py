"""Where the scan's SQL runs: DuckDB (default, one machine) or Apache Spark (a cluster).

>>> from distillguard.engine import open_engine
>>> eng = open_engine("duckdb")
>>> eng.arrow("SELECT 42 AS answer").to_pylist()
[{'answer': 42}]
>>> eng.close()
"""

from __future__ import annotations

import importlib
from typing import Any

from distillguard.engine.base import BatchFn, Engine, Kind, Relation, quote_ident
from distillguard.engine.duckdb_engine import DuckDBEngine, parquet_glob
from distillguard.errors import ConfigError

#: engine name -> "module:class"; imported on use so that DuckDB users never import pyspark.
ENGINES: dict[str, str] = {
    "duckdb": "distillguard.engine.duckdb_engine:DuckDBEngine",
    "spark": "distillguard.spark.engine:SparkEngine",
}


def open_engine(name: str, **options: Any) -> Engine:
    """Create the engine called ``name`` with its keyword options.

    ``duckdb``: ``con`` (a DuckDB connection) or ``path``. ``spark``: ``config`` (a
    :class:`~distillguard.spark.config.SparkConfig`) or ``session``.

    Raises:
        ConfigError: no engine has that name.
    """
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, attr = target.split(":")
    cls = getattr(importlib.import_module(module), attr)
    engine: Engine = cls(**options)
    return engine


__all__ = [
    "ENGINES",
    "BatchFn",
    "DuckDBEngine",
    "Engine",
    "Kind",
    "Relation",
    "open_engine",
    "parquet_glob",
    "quote_ident",
]
