"""Apache Spark support: the engine, its SQL dialect rules and its ``[spark]`` configuration.

Importing this package does not import pyspark; :class:`SparkEngine` does, when created.
"""

from __future__ import annotations

from distillguard.spark.config import MATERIALIZE, SparkConfig

__all__ = ["MATERIALIZE", "SparkConfig"]
