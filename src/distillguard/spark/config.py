"""``[spark]`` configuration: where the Spark engine runs and how it keeps its tables."""

from __future__ import annotations

from dataclasses import dataclass, field

#: How the Spark engine keeps a table between pipeline stages.
MATERIALIZE: dict[str, str] = {
    "checkpoint": "localCheckpoint(): kept by the executors, lineage cut (default)",
    "cache": "cache() and count(): kept in memory, spilled to executor disk",
    "parquet": "written as Parquet under work_dir and read back (most robust on a cluster)",
}


@dataclass(frozen=True, slots=True)
class SparkConfig:
    """``[spark]`` section.

    Attributes:
        master: Spark master URL: ``local[N]`` (default ``local[2]``), ``spark://host:7077``,
            ``k8s://https://...``, ``yarn``; ignored when a session already exists (e.g.
            under ``spark-submit``, which sets it).
        app_name: the application name shown by the cluster manager.
        shuffle_partitions: ``spark.sql.shuffle.partitions``; a few per core (local) or
            ~2-3x the executor cores (cluster).
        driver_memory: ``spark.driver.memory`` for a session started here.
        materialize: ``checkpoint``, ``cache`` or ``parquet`` (see :data:`MATERIALIZE`).
        work_dir: folder for ``parquet`` materialisation (a shared filesystem or object
            store URL on a cluster); empty for a temporary local folder.
        batch_rows: rows per Arrow batch handed to per-request functions (``mapInArrow``).
        conf: any other Spark properties, e.g. ``{"spark.executor.memory" = "8g"}``.
    """

    master: str = "local[2]"
    app_name: str = "distillguard"
    shuffle_partitions: int = 8
    driver_memory: str = "2g"
    materialize: str = "checkpoint"
    work_dir: str = ""
    batch_rows: int = 10_000
    conf: dict[str, str] = field(default_factory=dict)
