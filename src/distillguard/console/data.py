"""The scan as the console reads it: the scan's DuckDB file (attached read-only), its
``campaigns.json`` and ``accounts.csv``, and the summary tables that
:mod:`distillguard.console.summaries` builds (or finds already built) at start.

No page scans ``events``: every page reads summary tables sorted by their lookup key, so
DuckDB's min/max zone maps skip everything but the rows asked for. Each request uses its
own cursor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from distillguard.errors import InputError, StoreError

#: account_features columns that are not numeric features.
_NOT_FEATURES = frozenset({"account_id", "org_id", "first_seen", "last_seen", "tier"})


@dataclass(frozen=True, slots=True)
class Tactic:
    """One tactic of a campaign."""

    name: str
    atlas: tuple[str, ...]
    share: float | None
    source: str


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """One campaign of campaigns.json."""

    campaign_id: str
    size: int
    risk: float
    volume: int
    tokens: int
    first_seen: datetime | None
    last_seen: datetime | None
    tactics: tuple[Tactic, ...]
    evidence: dict[str, Any]

    @property
    def atlas_ids(self) -> tuple[str, ...]:
        """Every ATLAS id of its tactics, in order."""
        return tuple(dict.fromkeys(a for t in self.tactics for a in t.atlas))


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows of a longer list."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.size))


@dataclass
class ScanData:
    """Read-only access to one scan and its precomputed summaries.

    Build one with :func:`distillguard.console.summaries.open_scan`.
    """

    db_path: Path
    results_dir: Path
    con: duckdb.DuckDBPyConnection
    campaigns: dict[str, CampaignInfo]
    scan_id: str
    tables: frozenset[str]
    features: tuple[str, ...]
    unit: str
    timings: dict[str, float] = field(default_factory=dict)
    population: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    #: campaign id -> (member accounts, linked pairs inside it), from the summaries.
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the summary file in use (None: built in memory) and whether it was already built.
    summary_path: Path | None = None
    summary_reused: bool = False
    _cache: OrderedDict[tuple[str, str], Any] = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` on a fresh cursor and return rows as dicts."""
        cur = self.con.cursor()
        try:
            res = cur.execute(sql, params or [])
            cols = [d[0] for d in res.description or []]
            return [dict(zip(cols, r, strict=True)) for r in res.fetchall()]
        except duckdb.Error as exc:
            raise StoreError(f"console query failed: {exc}") from exc
        finally:
            cur.close()

    def cached(self, kind: str, key: str, build: Any, limit: int = 256) -> Any:
        """Memoise ``build()`` under (kind, key), keeping the ``limit`` most recent."""
        with self._cache_lock:
            if (kind, key) in self._cache:
                self._cache.move_to_end((kind, key))
                return self._cache[(kind, key)]
        value = build()
        with self._cache_lock:
            self._cache[(kind, key)] = value
            while len(self._cache) > limit:
                self._cache.popitem(last=False)
        return value

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def members(self, campaign_id: str) -> list[str]:
        """Account ids of a campaign, sorted."""
        return [
            r["account_id"]
            for r in self.rows(
                "SELECT account_id FROM c_member_rows WHERE campaign_id = ? ORDER BY r_account",
                [campaign_id],
            )
        ]

    def campaign_of(self, account_id: str) -> str | None:
        """The campaign an account belongs to, or None."""
        r = self.rows("SELECT campaign_id FROM c_members WHERE account_id = ?", [account_id])
        return str(r[0]["campaign_id"]) if r else None


def _parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _load_campaigns(path: Path) -> tuple[dict[str, CampaignInfo], list[tuple[str, str]], str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the scan's campaigns: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of campaigns")
    out: dict[str, CampaignInfo] = {}
    members: list[tuple[str, str]] = []
    for i, c in enumerate(data):
        if not isinstance(c, dict) or not isinstance(c.get("campaign_id"), str):
            raise InputError(f"{path}: campaign #{i + 1}: missing field 'campaign_id'")
        cid = c["campaign_id"]
        accounts = [str(a) for a in c.get("accounts") or []]
        tactics = tuple(
            Tactic(
                str(t.get("name", "")),
                tuple(str(a) for a in t.get("atlas") or []),
                float(t["share"]) if isinstance(t.get("share"), int | float) else None,
                str(t.get("source", "")),
            )
            if isinstance(t, dict)
            else Tactic(str(t), (), None, "")
            for t in c.get("tactics") or []
        )
        out[cid] = CampaignInfo(
            campaign_id=cid,
            size=len(accounts),
            risk=float(c.get("risk") or 0.0),
            volume=int(c.get("volume") or 0),
            tokens=int(c.get("tokens") or 0),
            first_seen=_parse_ts(c.get("first_seen")),
            last_seen=_parse_ts(c.get("last_seen")),
            tactics=tactics,
            evidence=dict(c.get("evidence") or {}),
        )
        members.extend((cid, a) for a in accounts)
    scan_id = hashlib.sha256(raw).hexdigest()[:16]
    return out, members, scan_id


def load_verdicts(res_dir: Path) -> pa.Table:
    """The scan's ``accounts.csv`` (account, risk, verdict, campaign, top reasons).

    Raises:
        InputError: the file is missing or malformed (named).
    """
    acc_csv = res_dir / "accounts.csv"
    try:
        return pacsv.read_csv(
            acc_csv,
            convert_options=pacsv.ConvertOptions(
                column_types={
                    "account_id": pa.string(),
                    "risk": pa.float64(),
                    "verdict": pa.string(),
                    "campaign_id": pa.string(),
                    "top_reasons": pa.string(),
                },
                include_columns=["account_id", "risk", "verdict", "campaign_id", "top_reasons"],
                strings_can_be_null=False,
            ),
        )
    except FileNotFoundError:
        raise InputError(f"{acc_csv}: not found (expected the scan's accounts.csv)") from None
    except (pa.ArrowInvalid, KeyError) as exc:
        raise InputError(f"{acc_csv}: {exc}") from None


def load_campaigns(path: Path) -> tuple[dict[str, CampaignInfo], pa.Table, str]:
    """The scan's ``campaigns.json``: campaigns by id, (campaign, account) rows, scan id.

    Raises:
        InputError: the file is missing or malformed (named, with the line).
    """
    campaigns, pairs, scan_id = _load_campaigns(path)
    members = pa.table(
        {
            "campaign_id": pa.array([c for c, _ in pairs], pa.string()),
            "account_id": pa.array([a for _, a in pairs], pa.string()),
        }
    )
    return campaigns, members, scan_id


def _quote(s: str) -> str:
    return s.replace("'", "''")
