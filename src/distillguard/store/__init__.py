"""Event storage: an embedded DuckDB file by default, behind a small seam."""

from __future__ import annotations

from pathlib import Path

from distillguard.store.base import TABLES, Store, StoreConfig, Transactional, WriteResult
from distillguard.store.duckdb_store import DuckDBStore
from distillguard.store.memory import MemoryStore

#: Explicit registry of store implementations.
STORES: dict[str, type] = {"duckdb": DuckDBStore, "memory": MemoryStore}


def open_store(config: StoreConfig | None = None, *, db: str | Path | None = None) -> DuckDBStore:
    """Open the configured DuckDB store (``db`` overrides the configured path)."""
    cfg = config or StoreConfig()
    return DuckDBStore(
        db if db is not None else cfg.db, memory_limit=cfg.memory_limit, threads=cfg.threads
    )


__all__ = [
    "STORES",
    "TABLES",
    "DuckDBStore",
    "MemoryStore",
    "Store",
    "StoreConfig",
    "Transactional",
    "WriteResult",
    "open_store",
]
