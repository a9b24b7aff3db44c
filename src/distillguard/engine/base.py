"""The engine seam: where the scan's SQL runs (DuckDB on one machine, Spark on a cluster).

An :class:`Engine` holds named tables and views and runs SQL over them. SQL is written once,
in DuckDB's dialect; an engine for another dialect translates it (the Spark engine uses
:mod:`distillguard.spark.dialect`). Per-request work that is not SQL (prompt signals) is a
pure function from one Arrow record batch to another, mapped over a table with
:meth:`Engine.map_batches` (a batch loop on DuckDB, ``mapInArrow`` on Spark).

To write a new engine, implement every method of :class:`Engine`; run the conformance suite
in ``tests/engine/test_conformance.py`` against it (add it to the ``engine`` fixture there).
Errors from the underlying library are raised as :class:`~distillguard.errors.StoreError`
naming the statement that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import pyarrow as pa

#: A per-batch function for :meth:`Engine.map_batches`. It must be picklable (a module-level
#: function or a ``functools.partial`` of one): Spark ships it to its executors.
BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]

#: How a named relation is kept: ``table`` is computed once and stored; ``view`` is a query
#: re-evaluated by each reader.
Kind = Literal["table", "view"]


@dataclass(frozen=True, slots=True)
class Relation:
    """A named table or view an engine holds (what ``create`` and ``register_*`` return)."""

    name: str
    kind: Kind
    columns: tuple[str, ...]


@runtime_checkable
class Engine(Protocol):
    """Runs DuckDB-dialect SQL over named tables; see the module docstring."""

    name: ClassVar[str]

    def register_arrow(self, name: str, table: pa.Table) -> Relation:
        """Make an in-memory Arrow table readable as ``name`` (replacing any previous one)."""
        ...

    def register_parquet(self, name: str, path: str | Path, *, hive: bool = True) -> Relation:
        """Make Parquet files readable as view ``name``.

        ``path`` is a file, a folder (read recursively) or a glob; ``hive`` adds the
        ``key=value`` folder names as columns (the event lake's ``day``).
        """
        ...

    def create(self, name: str, query: str, *, kind: Kind = "table") -> Relation:
        """Run ``query`` (a SELECT) into table or view ``name``, replacing any previous one."""
        ...

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement (``CREATE [OR REPLACE] [TEMP] TABLE|VIEW ... AS``, ``DROP``, ...)."""
        ...

    def arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run ``query`` and return its (small) result as Arrow on the driver."""
        ...

    def map_batches(
        self, name: str, source: str, fn: BatchFn, schema: pa.Schema, *, batch_rows: int = 50_000
    ) -> Relation:
        """Apply ``fn`` to every record batch of ``source``; store the output as table ``name``.

        ``fn`` receives batches of at most ``batch_rows`` rows with ``source``'s columns and
        returns a batch in ``schema`` (any number of rows). Batches may run in any order and
        in parallel, so ``fn`` must not depend on other batches.
        """
        ...

    def drop(self, name: str) -> None:
        """Forget table or view ``name``; no error when it does not exist."""
        ...

    def tables(self) -> frozenset[str]:
        """Names of the tables and views the engine holds."""
        ...

    def columns(self, name: str) -> tuple[str, ...]:
        """Column names of ``name``, in order."""
        ...

    def close(self) -> None:
        """Release the engine's resources (a session, a connection)."""
        ...


def quote_ident(name: str) -> str:
    """Validate a table name (letters, digits, ``_``, ``.``) and return it unchanged.

    Names are interpolated into SQL, so only plain identifiers are accepted.

    Raises:
        StoreError: the name is not a plain identifier.
    """
    from distillguard.errors import StoreError

    if not name or not name.replace("_", "").replace(".", "").isalnum() or name[0].isdigit():
        raise StoreError(f"invalid table name {name!r}: use letters, digits and '_'")
    return name
