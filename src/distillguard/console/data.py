"""The scan as the console reads it: the scan's DuckDB file (attached read-only), its
``campaigns.json`` and ``accounts.csv``, and summary tables built once at start.

Pages must render in well under a second with 25,000 accounts and 10 million events, so no
page scans ``events``: the per-account and per-campaign time buckets, feature percentiles,
intra-campaign edges and template-family counts are computed here once (a few passes over
the events) into an in-memory DuckDB, sorted by their lookup key so that DuckDB's min/max
zone maps skip everything but the rows asked for. Each request uses its own cursor.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers (table and column names we
# read from the catalogue); values that come from requests are always bound parameters.

from __future__ import annotations

import hashlib
import json
import threading
import time
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

    Build one with :func:`open_scan`.
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
                "SELECT account_id FROM c_members WHERE campaign_id = ? ORDER BY account_id",
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


def _numeric_features(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'scan' "
        "AND table_name = 'account_features' ORDER BY column_index"
    ).fetchall()
    numeric = ("INT", "DOUBLE", "FLOAT", "DECIMAL", "BOOLEAN", "REAL")
    return [
        str(n)
        for n, t in rows
        if str(n) not in _NOT_FEATURES and any(k in str(t).upper() for k in numeric)
    ]


def _build(data: ScanData, verdicts: pa.Table, members: pa.Table) -> None:
    con, t = data.con, data.timings
    con.register("_verdicts", verdicts)
    con.register("_members", members)
    con.execute("CREATE TABLE c_verdicts AS SELECT * FROM _verdicts ORDER BY account_id")
    con.execute("CREATE TABLE c_members AS SELECT * FROM _members ORDER BY account_id")
    con.unregister("_verdicts")
    con.unregister("_members")
    s = time.perf_counter()
    con.execute(
        f"""CREATE TABLE c_buckets AS SELECT account_id, date_trunc('{data.unit}', ts) AS bucket,
            count(*) AS n FROM scan.events GROUP BY ALL ORDER BY account_id, bucket"""
    )
    con.execute(
        """CREATE TABLE c_campaign_buckets AS SELECT m.campaign_id, b.bucket,
            sum(b.n) AS events, count(DISTINCT b.account_id) AS accounts
            FROM c_buckets b JOIN c_members m USING (account_id) GROUP BY ALL
            ORDER BY campaign_id, bucket"""
    )
    t["buckets"] = time.perf_counter() - s
    s = time.perf_counter()
    if data.features:
        pct = ", ".join(
            f'CASE WHEN "{f}" IS NULL THEN NULL ELSE percent_rank() OVER '
            f'(PARTITION BY "{f}" IS NULL ORDER BY "{f}") END AS "{f}"'
            for f in data.features
        )
        con.execute(
            f"CREATE TABLE c_pct AS SELECT account_id, {pct} FROM scan.account_features "
            "ORDER BY account_id"
        )
        qs = ", ".join(
            f'quantile_cont(CAST("{f}" AS DOUBLE), [0.5, 0.9]) AS "{f}"' for f in data.features
        )
        row = con.execute(f"SELECT {qs} FROM scan.account_features").fetchall()[0]
        data.population = {
            f: (q[0], q[1]) if q else (None, None) for f, q in zip(data.features, row, strict=True)
        }
    t["percentiles"] = time.perf_counter() - s
    s = time.perf_counter()
    if "account_edges" in data.tables:
        con.execute(
            """CREATE TABLE c_edges AS SELECT ma.campaign_id, e.a, e.b, e.kind,
                CAST(e.weight AS DOUBLE) AS weight, CAST(e.evidence AS BIGINT) AS evidence
                FROM scan.account_edges e
                JOIN c_members ma ON ma.account_id = e.a
                JOIN c_members mb ON mb.account_id = e.b AND mb.campaign_id = ma.campaign_id
                ORDER BY ma.campaign_id, e.a, e.b"""
        )
    else:
        con.execute(
            "CREATE TABLE c_edges (campaign_id VARCHAR, a VARCHAR, b VARCHAR, kind VARCHAR, "
            "weight DOUBLE, evidence BIGINT)"
        )
    con.execute(
        """CREATE TABLE c_pairs AS SELECT campaign_id, a, b, sum(weight) AS weight,
            list(kind ORDER BY weight DESC) AS kinds FROM c_edges GROUP BY ALL
            ORDER BY campaign_id, weight DESC"""
    )
    t["edges"] = time.perf_counter() - s
    s = time.perf_counter()
    if {"prompt_signals", "template_families"} <= data.tables:
        con.execute(
            """CREATE TABLE c_families AS SELECT m.campaign_id, s.family_id,
                count(*) AS events, count(DISTINCT e.account_id) AS accounts
                FROM scan.events e JOIN c_members m USING (account_id)
                JOIN scan.prompt_signals s ON s.prompt_digest = e.prompt_digest
                WHERE s.family_id IS NOT NULL AND s.family_id >= 0
                GROUP BY m.campaign_id, s.family_id
                QUALIFY row_number() OVER (PARTITION BY m.campaign_id ORDER BY count(*) DESC,
                    s.family_id) <= 10
                ORDER BY campaign_id, events DESC"""
        )
    t["families"] = time.perf_counter() - s


def open_scan(db: str | Path, results: str | Path | None = None) -> ScanData:
    """Open a scan: its DuckDB file (read-only) and its results folder; build summaries.

    Args:
        db: the scan's DuckDB file (``scan --db`` or ``OUT/scan.duckdb``).
        results: the scan's ``--out`` folder; default the folder holding ``db``.

    Raises:
        InputError: a file is missing or malformed (named), or the database lacks the scan's
            tables.
        StoreError: DuckDB cannot open the file (for example a scan is writing it now).
    """
    db_path = Path(db)
    res_dir = Path(results) if results is not None else db_path.parent
    if not db_path.is_file():
        raise InputError(f"{db_path}: no such scan database")
    campaigns, pairs, scan_id = _load_campaigns(res_dir / "campaigns.json")
    acc_csv = res_dir / "accounts.csv"
    try:
        verdicts = pacsv.read_csv(
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
    members = pa.table(
        {
            "campaign_id": pa.array([c for c, _ in pairs], pa.string()),
            "account_id": pa.array([a for _, a in pairs], pa.string()),
        }
    )
    start = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{_quote(str(db_path))}' AS scan (READ_ONLY)")
        tables = frozenset(
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'scan' "
                "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'scan'"
            ).fetchall()
        )
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{db_path}: cannot open the scan database: {exc}") from exc
    missing = {"events", "account_features"} - tables
    if missing:
        con.close()
        raise InputError(
            f"{db_path}: not a scan database (missing {', '.join(sorted(missing))}); "
            "run `distillguard scan EVENTS --out DIR` first"
        )
    span = con.execute(
        "SELECT epoch(max(last_seen)) - epoch(min(first_seen)) FROM scan.account_features"
    ).fetchall()[0][0]
    unit = "hour" if span is not None and float(span) <= 14 * 86400 else "day"
    data = ScanData(
        db_path=db_path,
        results_dir=res_dir,
        con=con,
        campaigns=campaigns,
        scan_id=scan_id,
        tables=tables,
        features=tuple(_numeric_features(con)),
        unit=unit,
    )
    try:
        _build(data, verdicts, members)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{db_path}: cannot summarise the scan: {exc}") from exc
    data.timings["total"] = time.perf_counter() - start
    return data


def _quote(s: str) -> str:
    return s.replace("'", "''")
