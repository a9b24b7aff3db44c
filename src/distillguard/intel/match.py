"""Matching imported indicators against local traffic; hits land in ``intel_hits``.

Keyed-hash indicators are matched by hashing each *distinct* local value of the relevant
column once with the community key (in Python: DuckDB has no HMAC) and joining in SQL, so
the cost grows with distinct values, not with events. Indicators made under another key id
cannot match and are counted as such. Template fingerprints are matched against distinct
prompt texts (stored only with ``keep_text``) through an inverted index of their hashes.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from distillguard.intel.fingerprint import ShingleHasher
from distillguard.intel.indicators import KIND_SQL
from distillguard.intel.keys import CommunityKey, normalise
from distillguard.intel.tables import KIND_WEIGHTS, ensure_tables, insert_rows
from distillguard.store import DuckDBStore

#: indicator kind -> KIND_SQL expression name giving the local value.
_LOCAL: dict[str, str] = {
    "ipv4": "ip",
    "ipv6": "ip",
    "cidr": "cidr",
    "asn": "asn",
    "user_agent": "user_agent",
    "email_domain": "email_domain",
    "payment": "payment",
    "account": "account",
}

_HIT_COLUMNS = ("account_id", "indicator_id", "events", "first_ts", "last_ts")


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What one matching pass found."""

    hits: int
    accounts: int
    by_kind: dict[str, int]
    other_key: int
    templates_skipped_no_text: bool


def _active(store: DuckDBStore, now: datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.sql(
        "SELECT * FROM intel_indicators WHERE valid_until IS NULL OR valid_until > ?", [now]
    ).to_pylist()
    return rows


def _local_values(store: DuckDBStore, expr_name: str) -> list[str]:
    expr = KIND_SQL[expr_name]
    rows = store.con.execute(
        f"SELECT DISTINCT {expr} FROM _dg_events e WHERE {expr} IS NOT NULL"  # noqa: S608
    ).fetchall()
    return [str(r[0]) for r in rows]


def _mapping(values: list[str], kind: str, key: CommunityKey, method: str) -> list[tuple[str, str]]:
    """(local value, matchable form) pairs for one indicator kind."""
    out: list[tuple[str, str]] = []
    for v in values:
        if kind in ("ipv4", "ipv6"):
            try:
                version = ipaddress.ip_address(v.strip()).version
            except ValueError:
                version = 4
            if (version == 6) != (kind == "ipv6"):
                continue
        form = normalise(kind, v)
        out.append((v, key.digest(kind, v) if method == "hmac" else form))
    return out


def _join_hits(
    store: DuckDBStore, expr_name: str, mapping: list[tuple[str, str]], wanted: pa.Table
) -> list[tuple[Any, ...]]:
    """(account_id, indicator_id, events, first_ts, last_ts) for mapped values."""
    if not mapping:
        return []
    expr = KIND_SQL[expr_name]
    con = store.con
    con.register(
        "_dg_map", pa.table({"local": [m[0] for m in mapping], "form": [m[1] for m in mapping]})
    )
    con.register("_dg_want", wanted)
    try:
        return con.execute(
            f"""SELECT e.account_id, w.indicator_id, count(*), min(e.ts), max(e.ts)
                FROM _dg_events e JOIN _dg_map m ON m.local = {expr}
                JOIN _dg_want w ON w.value = m.form
                GROUP BY 1, 2"""  # noqa: S608 - expr comes from the fixed KIND_SQL registry
        ).fetchall()
    finally:
        con.unregister("_dg_map")
        con.unregister("_dg_want")


def _cidr_mapping(values: list[str], nets: list[str]) -> list[tuple[str, str]]:
    parsed = []
    for n in nets:
        try:
            parsed.append((ipaddress.ip_network(n, strict=False), n))
        except ValueError:
            continue
    out: list[tuple[str, str]] = []
    for v in values:
        try:
            ip = ipaddress.ip_address(v.strip())
        except ValueError:
            continue
        out.extend((v, text) for net, text in parsed if ip in net)
    return out


def _template_hits(
    store: DuckDBStore, fps: list[dict[str, Any]], key: CommunityKey, min_prompts: int
) -> tuple[list[tuple[Any, ...]], bool]:
    if not fps:
        return [], False
    has_text = store.con.execute(
        "SELECT count(*) FROM _dg_events WHERE prompt_text IS NOT NULL"
    ).fetchall()[0][0]
    if not has_text:
        return [], True
    index: dict[int, list[int]] = defaultdict(list)
    sizes = []
    for i, fp in enumerate(fps):
        hs = {int(h, 16) for h in fp["hashes"]}
        sizes.append(len(hs))
        for h in hs:
            index[h].append(i)
    hasher = ShingleHasher(key)
    rows = store.con.execute(
        "SELECT account_id, any_value(prompt_text), count(*), min(ts), max(ts) FROM _dg_events "
        "WHERE prompt_text IS NOT NULL GROUP BY account_id, prompt_digest"
    ).fetchall()
    agg: dict[tuple[str, str], list[Any]] = {}
    for account, text, n, first, last in rows:
        counts: dict[int, int] = defaultdict(int)
        for h in hasher.hash_text(text):
            for i in index.get(h, ()):
                counts[i] += 1
        for i, c in counts.items():
            if sizes[i] and c / sizes[i] >= fps[i]["threshold"]:
                k = (account, fps[i]["indicator_id"])
                cur = agg.get(k)
                if cur is None:
                    agg[k] = [n, first, last]
                else:
                    cur[0] += n
                    cur[1] = min(cur[1], first)
                    cur[2] = max(cur[2], last)
    return [(a, i, n, f, la) for (a, i), (n, f, la) in agg.items() if n >= min_prompts], False


def match_intel(
    store: DuckDBStore,
    key: CommunityKey | None,
    *,
    now: datetime | None = None,
    until: datetime | None = None,
    min_template_prompts: int = 1,
) -> MatchResult:
    """Recompute ``intel_hits`` from every active indicator against the ``events`` table.

    Args:
        store: the local store (events and intel tables).
        key: the community key; without it only raw indicators can match.
        now: indicators whose ``valid_until`` has passed are ignored.
        until: match only events at or before this instant (replaying a prefix).
        min_template_prompts: an account needs this many prompts matching a fingerprint.
    """
    ensure_tables(store)
    now = now or datetime.now(UTC)
    if until is None:
        store.execute("CREATE OR REPLACE TEMP VIEW _dg_events AS SELECT * FROM events")
    else:
        u = until.astimezone(UTC).isoformat()
        store.execute(
            "CREATE OR REPLACE TEMP VIEW _dg_events AS SELECT * FROM events "  # noqa: S608
            f"WHERE ts <= TIMESTAMPTZ '{u}'"
        )
    active = _active(store, now)
    info = {r["indicator_id"]: r for r in active}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    other_key = 0
    seen: set[tuple[str, str]] = set()
    for r in active:
        if (r["indicator_id"], r["value"]) in seen:
            continue
        seen.add((r["indicator_id"], r["value"]))
        if r["method"] in ("hmac", "fingerprint") and (key is None or r["key_id"] != key.key_id):
            other_key += 1
            continue
        groups[(r["kind"], r["method"])].append(r)
    hits: list[tuple[Any, ...]] = []
    cache: dict[str, list[str]] = {}
    for (kind, method), rows in groups.items():
        if method == "fingerprint" or kind not in _LOCAL:
            continue
        expr_name = "ip" if (kind == "cidr" and method == "raw") else _LOCAL[kind]
        if expr_name not in cache:
            cache[expr_name] = _local_values(store, expr_name)
        wanted = pa.table(
            {"indicator_id": [r["indicator_id"] for r in rows], "value": [r["value"] for r in rows]}
        )
        if kind == "cidr" and method == "raw":
            mapping = _cidr_mapping(cache[expr_name], [r["value"] for r in rows])
        else:
            assert key is not None or method == "raw"
            mapping = _mapping(cache[expr_name], kind, key or CommunityKey(b"\0" * 32), method)
        hits += _join_hits(store, expr_name, mapping, wanted)
    fp_ids = [r["indicator_id"] for r in groups.get(("template", "fingerprint"), [])]
    fps: list[dict[str, Any]] = []
    if fp_ids and key is not None:
        con = store.con
        con.register("_dg_fp_ids", pa.table({"indicator_id": fp_ids}))
        try:
            fps = store.sql(
                "SELECT DISTINCT f.indicator_id, f.hashes, f.threshold FROM intel_fingerprints f "
                "JOIN _dg_fp_ids i USING (indicator_id)"
            ).to_pylist()
        finally:
            con.unregister("_dg_fp_ids")
    t_hits, no_text = _template_hits(store, fps, key, min_template_prompts) if key else ([], False)
    hits += t_hits
    return _write_hits(store, hits, info, now, other_key, no_text)


def _write_hits(
    store: DuckDBStore,
    hits: list[tuple[Any, ...]],
    info: dict[str, Any],
    now: datetime,
    other_key: int,
    no_text: bool,
) -> MatchResult:
    rows = []
    by_kind: dict[str, int] = defaultdict(int)
    for account, iid, n, first, last in hits:
        r = info[iid]
        by_kind[r["kind"]] += 1
        rows.append(
            (
                account,
                iid,
                r["kind"],
                r["producer"],
                r["producer_id"],
                r["bundle_id"],
                r["campaign_ref"],
                int(n),
                first,
                last,
                KIND_WEIGHTS.get(r["kind"], 0.1),
                now,
            )
        )
    store.execute("DELETE FROM intel_hits")
    insert_rows(store, "intel_hits", rows)
    return MatchResult(
        hits=len(rows),
        accounts=len({r[0] for r in rows}),
        by_kind=dict(by_kind),
        other_key=other_key,
        templates_skipped_no_text=no_text,
    )
