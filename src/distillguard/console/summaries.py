"""The console's summary tables: built once per scan, kept in a sidecar DuckDB file.

Pages must render in well under 300 ms with 25,000 accounts and 10 million events, so
everything a page would otherwise compute per request is computed here, once: time buckets
per account and per campaign, feature percentiles and population quantiles, each member's
row with its rank under every sort, intra-campaign edges and ranked pairs with their
reasons, edge counts per kind, template-family counts, and each campaign's graph document
with its layout (:mod:`distillguard.console.graph`). Tables are sorted by their lookup key,
so DuckDB's zone maps skip everything but the rows asked for.

The tables go to ``<cache_dir>/<scan>-<path digest>-<key>.duckdb`` where the key digests
the scan database's path, size and modification time, ``campaigns.json``, ``accounts.csv``,
the graph limits and :data:`SUMMARY_VERSION`. A restart over the same scan opens that file
read-only (well under a second) instead of rebuilding; a new scan, or a new version of this
module, gets a new file and the older ones of the same scan path are removed. Building goes
to a temporary file renamed into place, so a crash never leaves a half-built cache, and two
consoles starting at once just both build. Without a cache folder (or when it cannot be
written) the tables are built in memory, as before.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers (table and column names we
# read from the catalogue); values that come from requests are always bound parameters.

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from distillguard.console.data import (
    CampaignInfo,
    ScanData,
    _quote,
    load_campaigns,
    load_verdicts,
)
from distillguard.errors import InputError, StoreError

log = logging.getLogger("distillguard.console")

#: Bump when a summary table changes shape: older cache files are then ignored and replaced.
SUMMARY_VERSION = 3

#: account_features columns that are not numeric features.
_NOT_FEATURES = frozenset({"account_id", "org_id", "first_seen", "last_seen", "tier"})


def _stat_key(path: Path) -> list[object]:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def summary_file(
    cache_dir: Path, db_path: Path, res_dir: Path, scan_id: str, max_nodes: int, max_edges: int
) -> Path:
    """The summary file for this scan (it may not exist yet)."""
    ident = [
        SUMMARY_VERSION,
        _stat_key(db_path),
        _stat_key(res_dir / "accounts.csv"),
        scan_id,
        max_nodes,
        max_edges,
    ]
    key = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:20]
    where = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:8]
    return cache_dir / f"{db_path.stem}-{where}-{key}.duckdb"


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


def _timed(t: dict[str, float], name: str, step: Callable[[], None]) -> None:
    s = time.perf_counter()
    step()
    t[name] = round(time.perf_counter() - s, 3)


def _build_tables(data: ScanData, verdicts: pa.Table, members: pa.Table) -> None:
    con, t = data.con, data.timings
    con.register("_verdicts", verdicts)
    con.register("_members", members)
    con.execute("CREATE TABLE c_verdicts AS SELECT * FROM _verdicts ORDER BY account_id")
    con.execute("CREATE TABLE c_members AS SELECT * FROM _members ORDER BY account_id")
    con.unregister("_verdicts")
    con.unregister("_members")

    def buckets() -> None:
        con.execute(
            f"""CREATE TABLE c_buckets AS SELECT account_id,
                date_trunc('{data.unit}', ts) AS bucket, count(*) AS n FROM scan.events
                GROUP BY ALL ORDER BY account_id, bucket"""
        )
        con.execute(
            """CREATE TABLE c_campaign_buckets AS SELECT m.campaign_id, b.bucket,
                sum(b.n) AS events, count(DISTINCT b.account_id) AS accounts
                FROM c_buckets b JOIN c_members m USING (account_id) GROUP BY ALL
                ORDER BY campaign_id, bucket"""
        )

    def percentiles() -> None:
        feats = data.features
        pct = ", ".join(
            f'CASE WHEN "{f}" IS NULL THEN NULL ELSE percent_rank() OVER '
            f'(PARTITION BY "{f}" IS NULL ORDER BY "{f}") END AS "{f}"'
            for f in feats
        )
        con.execute(
            f"CREATE TABLE c_pct AS SELECT account_id{', ' if pct else ''}{pct} "
            "FROM scan.account_features ORDER BY account_id"
        )
        con.execute("CREATE TABLE c_population (feature VARCHAR, median DOUBLE, p90 DOUBLE)")
        if feats:
            qs = ", ".join(f'quantile_cont(CAST("{f}" AS DOUBLE), [0.5, 0.9])' for f in feats)
            row = con.execute(f"SELECT {qs} FROM scan.account_features").fetchall()[0]
            con.executemany(
                "INSERT INTO c_population VALUES (?, ?, ?)",
                [(f, *(q if q else (None, None))) for f, q in zip(feats, row, strict=True)],
            )

    def member_rows() -> None:
        con.execute(
            """CREATE TABLE c_member_rows AS SELECT m.campaign_id, m.account_id, f.org_id,
                v.risk, v.verdict, f.n_events, f.first_seen, f.last_seen, f.tier, v.top_reasons,
                row_number() OVER (PARTITION BY m.campaign_id
                    ORDER BY v.risk DESC NULLS LAST, m.account_id) AS r_risk,
                row_number() OVER (PARTITION BY m.campaign_id
                    ORDER BY f.n_events DESC NULLS LAST, m.account_id) AS r_volume,
                row_number() OVER (PARTITION BY m.campaign_id
                    ORDER BY f.first_seen NULLS LAST, m.account_id) AS r_first_seen,
                row_number() OVER (PARTITION BY m.campaign_id ORDER BY m.account_id)
                    AS r_account
                FROM c_members m LEFT JOIN c_verdicts v USING (account_id)
                LEFT JOIN scan.account_features f USING (account_id)
                ORDER BY m.campaign_id, r_risk"""
        )

    def edges() -> None:
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
                "CREATE TABLE c_edges (campaign_id VARCHAR, a VARCHAR, b VARCHAR, "
                "kind VARCHAR, weight DOUBLE, evidence BIGINT)"
            )
        con.execute(
            """CREATE TABLE c_pairs AS SELECT campaign_id, a, b, weight, reasons,
                row_number() OVER (PARTITION BY campaign_id ORDER BY weight DESC, a, b) AS rank
                FROM (SELECT campaign_id, a, b, sum(weight) AS weight,
                      list({'kind': kind, 'weight': weight, 'evidence': evidence}
                           ORDER BY weight DESC, kind) AS reasons
                      FROM c_edges GROUP BY ALL)
                ORDER BY campaign_id, rank"""
        )
        con.execute(
            """CREATE TABLE c_kinds AS SELECT campaign_id, kind, count(*) AS edges,
                avg(weight) AS mean_weight FROM c_edges GROUP BY ALL
                ORDER BY campaign_id, edges DESC, kind"""
        )
        con.execute(
            """CREATE TABLE c_stats AS SELECT m.campaign_id, count(*) AS members,
                coalesce(any_value(p.pairs), 0) AS pairs FROM c_members m
                LEFT JOIN (SELECT campaign_id, count(*) AS pairs FROM c_pairs GROUP BY 1) p
                USING (campaign_id) GROUP BY 1 ORDER BY 1"""
        )

    def families() -> None:
        if {"prompt_signals", "template_families"} <= data.tables:
            con.execute(
                """CREATE TABLE c_families AS SELECT m.campaign_id, s.family_id,
                    count(*) AS events, count(DISTINCT e.account_id) AS accounts
                    FROM scan.events e JOIN c_members m USING (account_id)
                    JOIN scan.prompt_signals s ON s.prompt_digest = e.prompt_digest
                    WHERE s.family_id IS NOT NULL AND s.family_id >= 0
                    GROUP BY m.campaign_id, s.family_id
                    QUALIFY row_number() OVER (PARTITION BY m.campaign_id
                        ORDER BY count(*) DESC, s.family_id) <= 10
                    ORDER BY campaign_id, events DESC"""
            )
        else:
            con.execute(
                "CREATE TABLE c_families (campaign_id VARCHAR, family_id BIGINT, "
                "events BIGINT, accounts BIGINT)"
            )

    _timed(t, "buckets", buckets)
    _timed(t, "percentiles", percentiles)
    _timed(t, "members", member_rows)
    _timed(t, "edges", edges)
    _timed(t, "families", families)


def _build_graphs(data: ScanData, max_nodes: int, max_edges: int) -> None:
    from distillguard.console.graph import build_graph, kind_codes

    s = time.perf_counter()
    kinds = kind_codes(data)
    data.con.execute(
        "CREATE TABLE c_graphs (campaign_id VARCHAR, nodes INTEGER, edges INTEGER, "
        "aggregated BOOLEAN, body BLOB)"
    )
    for cid in sorted(data.campaigns):
        g = build_graph(data, cid, max_nodes, max_edges, kinds)
        data.con.execute(
            "INSERT INTO c_graphs VALUES (?, ?, ?, ?, ?)",
            [cid, g.nodes, g.edges, g.aggregated, g.body()],
        )
    data.timings["graphs"] = round(time.perf_counter() - s, 3)


def _load_small(data: ScanData) -> None:
    """Read the few summaries kept in Python (population quantiles, counts)."""
    data.population = {
        str(r["feature"]): (r["median"], r["p90"])
        for r in data.rows("SELECT feature, median, p90 FROM c_population")
    }
    data.counts = {
        str(r["campaign_id"]): (int(r["members"]), int(r["pairs"]))
        for r in data.rows("SELECT campaign_id, members, pairs FROM c_stats")
    }


def _attach(con: duckdb.DuckDBPyConnection, db_path: Path) -> frozenset[str]:
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{_quote(str(db_path))}' AS scan (READ_ONLY)")
    return frozenset(
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'scan' "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'scan'"
        ).fetchall()
    )


def _connect(
    target: str, db_path: Path, read_only: bool = False
) -> tuple[duckdb.DuckDBPyConnection, frozenset[str]]:
    con = duckdb.connect(target, read_only=read_only)
    try:
        return con, _attach(con, db_path)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{db_path}: cannot open the scan database: {exc}") from exc


def _reuse(path: Path, db_path: Path) -> tuple[duckdb.DuckDBPyConnection, frozenset[str]] | None:
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
        ok = con.execute("SELECT value FROM c_meta WHERE key = 'version'").fetchall() == [
            (str(SUMMARY_VERSION),)
        ]
    except duckdb.Error as exc:
        log.warning("console: ignoring unreadable summary file %s: %s", path, exc)
        return None
    if not ok:
        con.close()
        return None
    try:
        return con, _attach(con, db_path)
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{db_path}: cannot open the scan database: {exc}") from exc


def _prune(path: Path) -> None:
    """Remove older summary files of the same scan path (never another's temporary file)."""
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.duckdb"):
        if old != path:
            _unlink(old)


def open_scan(
    db: str | Path,
    results: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    graph_max_nodes: int = 5000,
    graph_max_edges: int = 10000,
) -> ScanData:
    """Open a scan: its DuckDB file (read-only) and results folder, with its summaries.

    Args:
        db: the scan's DuckDB file (``scan --db`` or ``OUT/scan.duckdb``).
        results: the scan's ``--out`` folder; default the folder holding ``db``.
        cache_dir: folder of summary files; a file already built for this very scan is
            reused, else one is built there. None builds the summaries in memory.
        graph_max_nodes: campaigns larger than this get an aggregated graph.
        graph_max_edges: at most this many edges per campaign graph.

    Raises:
        InputError: a file is missing or malformed (named), or the database lacks the scan's
            tables.
        StoreError: DuckDB cannot open the file (for example a scan is writing it now).
    """
    db_path = Path(db)
    res_dir = Path(results) if results is not None else db_path.parent
    if not db_path.is_file():
        raise InputError(f"{db_path}: no such scan database")
    campaigns, members, scan_id = load_campaigns(res_dir / "campaigns.json")
    verdicts = load_verdicts(res_dir)
    start = time.perf_counter()
    path = None
    if cache_dir is not None:
        path = summary_file(
            Path(cache_dir), db_path, res_dir, scan_id, graph_max_nodes, graph_max_edges
        )
        reused = _reuse(path, db_path)
        if reused is not None:
            con, tables = reused
            data = _scan_data(db_path, res_dir, con, campaigns, scan_id, tables)
            meta = data.rows("SELECT value FROM c_meta WHERE key = 'timings'")
            data.timings = {f"built_{k}": v for k, v in json.loads(meta[0]["value"]).items()}
            data.summary_path, data.summary_reused = path, True
            _load_small(data)
            data.timings["total"] = round(time.perf_counter() - start, 3)
            return data
    tmp: Path | None = None
    if path is not None:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con, tables = _connect(str(tmp), db_path)
        except (OSError, duckdb.Error) as exc:
            log.warning("console: cannot write summaries to %s (%s); building in memory", tmp, exc)
            tmp = path = None
    if tmp is None:
        con, tables = _connect(":memory:", db_path)
    data = _scan_data(db_path, res_dir, con, campaigns, scan_id, tables)
    try:
        _build_tables(data, verdicts, members)
        _build_graphs(data, graph_max_nodes, graph_max_edges)
        _load_small(data)
    except duckdb.Error as exc:
        con.close()
        _unlink(tmp)
        raise StoreError(f"{db_path}: cannot summarise the scan: {exc}") from exc
    except BaseException:
        con.close()
        _unlink(tmp)
        raise
    data.timings["total"] = round(time.perf_counter() - start, 3)
    if tmp is None or path is None:
        return data
    try:
        con.execute(
            "CREATE TABLE c_meta AS SELECT * FROM (VALUES ('version', ?), ('timings', ?), "
            "('scan', ?)) t(key, value)",
            [str(SUMMARY_VERSION), json.dumps(data.timings), str(db_path.resolve())],
        )
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, path)
    except (OSError, duckdb.Error) as exc:
        con.close()
        _unlink(tmp)
        raise StoreError(f"{path}: cannot save the console summaries: {exc}") from exc
    _prune(path)
    reopened = _reuse(path, db_path)
    if reopened is None:
        raise StoreError(f"{path}: the summary file just written cannot be read back")
    data.con = reopened[0]
    data.summary_path = path
    return data


def _unlink(path: Path | None) -> None:
    if path is not None:
        for p in (path, path.with_name(path.name + ".wal")):
            with contextlib.suppress(OSError):
                p.unlink()


def _scan_data(
    db_path: Path,
    res_dir: Path,
    con: duckdb.DuckDBPyConnection,
    campaigns: dict[str, CampaignInfo],
    scan_id: str,
    tables: frozenset[str],
) -> ScanData:
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
    return ScanData(
        db_path=db_path,
        results_dir=res_dir,
        con=con,
        campaigns=campaigns,
        scan_id=scan_id,
        tables=tables,
        features=tuple(_numeric_features(con)),
        unit=unit,
    )
