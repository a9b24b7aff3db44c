"""Start (or join) the Spark session the engine runs on."""

from __future__ import annotations

import os
import sys
from typing import Any

from distillguard.errors import ConfigError, StoreError
from distillguard.spark.config import MATERIALIZE, SparkConfig


def spark_properties(cfg: SparkConfig) -> dict[str, str]:
    """The Spark properties a session started from ``cfg`` gets (``cfg.conf`` wins).

    Local masters listen on loopback only and run without the web UI.
    """
    props = {
        "spark.app.name": cfg.app_name,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(int(cfg.shuffle_partitions)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(int(cfg.batch_rows)),
        "spark.driver.memory": cfg.driver_memory,
        # DuckDB semantics: ANSI mode would raise on 1/0 where DuckDB returns NULL.
        "spark.sql.ansi.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    if cfg.master.startswith("local"):
        props.update(
            {
                "spark.ui.enabled": "false",
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
            }
        )
    props.update({str(k): str(v) for k, v in cfg.conf.items()})
    return props


def start_session(cfg: SparkConfig) -> Any:
    """Return the active SparkSession, or start one from ``cfg``.

    Under ``spark-submit`` (or in a Databricks notebook) a session already exists: it is
    reused as is, so the cluster's own settings win; only the session time zone is set.

    Raises:
        ConfigError: ``materialize`` is unknown or pyspark is not installed.
        StoreError: Spark could not start (no Java, a bad master URL).
    """
    if cfg.materialize not in MATERIALIZE:
        raise ConfigError(
            f"[spark] materialize: {cfg.materialize!r} is not one of {', '.join(MATERIALIZE)}"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'distillguard[spark]'"
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    # Executors must run the interpreter that has distillguard and pyarrow installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(cfg.master)
    for key, value in spark_properties(cfg).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and JVM start-up errors have no common base class
        raise StoreError(f"cannot start Spark (master {cfg.master!r}): {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session
