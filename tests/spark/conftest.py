"""One local Spark session for the whole test run (starting a JVM takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_binary

pytest.importorskip("pyspark")


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    require_binary("java")
    from distillguard.spark.config import SparkConfig
    from distillguard.spark.session import start_session

    session = start_session(SparkConfig(master="local[2]", shuffle_partitions=4))
    yield session
    session.stop()


@pytest.fixture()
def spark_engine(spark_session: Any) -> Iterator[Any]:
    from distillguard.spark.config import SparkConfig
    from distillguard.spark.engine import SparkEngine

    eng = SparkEngine(SparkConfig(master="local[2]", shuffle_partitions=4), session=spark_session)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo-week simulated at a small scale (seed 7), ingested into an event lake."""
    from distillguard.ingest.lake import LakeStore
    from distillguard.ingest.run import ingest_paths
    from distillguard.sim import load_scenario, simulate

    root = tmp_path_factory.mktemp("demo")
    sim = simulate(load_scenario("demo-week"), root / "sim", seed=7, scale=0.01)
    with LakeStore(root / "lake") as store:
        ingest_paths([sim.events_path], store, keep_text=True)
    return root / "lake"
