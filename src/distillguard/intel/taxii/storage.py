"""Where the TAXII server keeps collection objects and status resources (DuckDB)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from distillguard.intel.stix import SPEC_VERSION, timestamp
from distillguard.store import DuckDBStore

_DDL = (
    """CREATE TABLE IF NOT EXISTS taxii_objects (
        seq BIGINT, collection_id VARCHAR, object_id VARCHAR, type VARCHAR, version VARCHAR,
        spec_version VARCHAR, date_added TIMESTAMPTZ, json VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS taxii_status (status_id VARCHAR, json VARCHAR)""",
)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of stored objects."""

    rows: list[dict[str, Any]]
    more: bool
    next: str | None


class TaxiiStorage:
    """Objects per collection, in insertion order (``seq``), with ``date_added``."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        for ddl in _DDL:
            store.execute(ddl)
        row = store.sql("SELECT max(seq) AS s, max(date_added) AS d FROM taxii_objects")
        last = row.to_pylist()[0]
        self._seq = int(last["s"] or 0)
        self._last: datetime = last["d"] or datetime(1970, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def add(self, collection_id: str, objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """Store objects; returns (id, version) of each (an existing version is kept)."""
        out: list[tuple[str, str]] = []
        with self._lock:
            for obj in objects:
                version = str(obj.get("modified") or obj.get("created") or "")
                exists = self.store.sql(
                    "SELECT 1 FROM taxii_objects WHERE collection_id = ? AND object_id = ? "
                    "AND version = ?",
                    [collection_id, obj["id"], version],
                )
                if exists.num_rows:
                    out.append((obj["id"], version))
                    continue
                now = datetime.now(UTC)
                self._last = max(now, self._last + timedelta(microseconds=1))
                self._seq += 1
                self.store.execute(
                    "INSERT INTO taxii_objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        self._seq,
                        collection_id,
                        obj["id"],
                        obj["type"],
                        version or timestamp(self._last),
                        obj.get("spec_version", SPEC_VERSION),
                        self._last,
                        json.dumps(obj, separators=(",", ":")),
                    ],
                )
                out.append((obj["id"], version or timestamp(self._last)))
        return out

    def page(
        self,
        collection_id: str,
        *,
        limit: int,
        after_seq: int = 0,
        added_after: datetime | None = None,
        ids: list[str] | None = None,
        types: list[str] | None = None,
        versions: list[str] | None = None,
        spec_versions: list[str] | None = None,
    ) -> Page:
        """Objects of a collection matching the TAXII filters, oldest first."""
        where = ["collection_id = ?", "seq > ?"]
        params: list[Any] = [collection_id, after_seq]
        if added_after is not None:
            where.append("date_added > ?")
            params.append(added_after)
        for col, values in (("object_id", ids), ("type", types), ("spec_version", spec_versions)):
            if values:
                where.append(f"{col} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        vers = versions or ["last"]
        exact = [v for v in vers if v not in ("last", "first", "all")]
        if "all" not in vers:
            conds = []
            if "last" in vers:
                conds.append("version = max(version) OVER (PARTITION BY object_id)")
            if "first" in vers:
                conds.append("version = min(version) OVER (PARTITION BY object_id)")
            if exact:
                conds.append(f"version IN ({', '.join('?' for _ in exact)})")
            qualify = " QUALIFY " + " OR ".join(conds)
        else:
            qualify = ""
        sql = (
            "SELECT * FROM (SELECT * FROM taxii_objects "  # noqa: S608 - fixed column names
            f"WHERE collection_id = ?{qualify}) q WHERE "
        )
        # the version filter applies over the whole collection, the paging filters after it
        params2: list[Any] = [collection_id, *exact, *params[1:]]
        sql += " AND ".join(where[1:])
        rows = self.store.sql(sql + " ORDER BY seq LIMIT ?", [*params2, limit + 1]).to_pylist()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows=rows, more=more, next=str(rows[-1]["seq"]) if more and rows else None)

    def versions(self, collection_id: str, object_id: str) -> list[dict[str, Any]]:
        """Every stored version of one object."""
        rows: list[dict[str, Any]] = self.store.sql(
            "SELECT seq, version, date_added FROM taxii_objects WHERE collection_id = ? AND "
            "object_id = ? ORDER BY seq",
            [collection_id, object_id],
        ).to_pylist()
        return rows

    def put_status(self, status_id: str, status: dict[str, Any]) -> None:
        """Keep a status resource."""
        self.store.execute(
            "INSERT INTO taxii_status VALUES (?, ?)", [status_id, json.dumps(status)]
        )

    def get_status(self, status_id: str) -> dict[str, Any] | None:
        """A status resource, or None."""
        rows = self.store.sql("SELECT json FROM taxii_status WHERE status_id = ?", [status_id])
        if not rows.num_rows:
            return None
        value: dict[str, Any] = json.loads(rows.column("json")[0].as_py())
        return value
