"""[spark] configuration: session properties and validation (no JVM needed)."""

from __future__ import annotations

import pytest

from distillguard.config import load_section
from distillguard.errors import ConfigError
from distillguard.spark.config import SparkConfig
from distillguard.spark.session import spark_properties, start_session


def test_local_master_binds_loopback_without_ui() -> None:
    props = spark_properties(SparkConfig(master="local[1]", shuffle_partitions=4))
    assert props["spark.driver.bindAddress"] == "127.0.0.1"
    assert props["spark.ui.enabled"] == "false"
    assert props["spark.sql.shuffle.partitions"] == "4"
    assert props["spark.sql.session.timeZone"] == "UTC"


def test_cluster_master_keeps_cluster_networking_and_conf_wins() -> None:
    cfg = SparkConfig(master="yarn", conf={"spark.sql.session.timeZone": "UTC", "spark.x": "1"})
    props = spark_properties(cfg)
    assert "spark.driver.bindAddress" not in props
    assert props["spark.x"] == "1"


def test_section_from_file_and_environment() -> None:
    cfg = load_section(
        "spark",
        SparkConfig,
        file_data={"spark": {"master": "local[4]", "conf": {"spark.executor.memory": "8g"}}},
        environ={"DISTILLGUARD_SPARK_SHUFFLE_PARTITIONS": "16"},
    )
    assert (cfg.master, cfg.shuffle_partitions) == ("local[4]", 16)
    assert cfg.conf == {"spark.executor.memory": "8g"}


def test_unknown_materialize_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="materialize"):
        start_session(SparkConfig(materialize="disk"))
