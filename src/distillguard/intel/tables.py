"""The intel tables in the DuckDB store (created on first use).

``intel_hits`` is the table the detection pipeline joins: one row per (account, indicator)
that matched local traffic. ``intel_account_signals`` is a view with one row per account:
how many producers and indicators hit it, which kinds, and a score in [0, 1] combining the
kind weights as independent evidence (``1 - prod(1 - weight)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from distillguard.store import DuckDBStore

#: How strongly one hit of each kind points at a campaign account (documented in docs/intel.md).
KIND_WEIGHTS: dict[str, float] = {
    "account": 0.9,
    "payment": 0.9,
    "template": 0.7,
    "ipv4": 0.5,
    "ipv6": 0.5,
    "email_domain": 0.4,
    "user_agent": 0.3,
    "cidr": 0.3,
    "asn": 0.1,
}

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS intel_bundles (
        bundle_id VARCHAR, sha256 VARCHAR, source VARCHAR, received_at TIMESTAMPTZ,
        producer_id VARCHAR, producer_name VARCHAR, tlp VARCHAR, objects BIGINT,
        accepted BIGINT, rejected BIGINT, report VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS intel_objects (
        object_id VARCHAR, type VARCHAR, modified VARCHAR, bundle_id VARCHAR,
        producer_id VARCHAR, json VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS intel_indicators (
        indicator_id VARCHAR, modified VARCHAR, bundle_id VARCHAR, producer_id VARCHAR,
        producer VARCHAR, campaign_ref VARCHAR, name VARCHAR, kind VARCHAR, method VARCHAR,
        key_id VARCHAR, value VARCHAR, valid_from TIMESTAMPTZ, valid_until TIMESTAMPTZ,
        tlp VARCHAR, confidence BIGINT)""",
    """CREATE TABLE IF NOT EXISTS intel_fingerprints (
        indicator_id VARCHAR, digest VARCHAR, key_id VARCHAR, hashes VARCHAR[],
        threshold DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS intel_hits (
        account_id VARCHAR, indicator_id VARCHAR, kind VARCHAR, producer VARCHAR,
        producer_id VARCHAR, bundle_id VARCHAR, campaign_ref VARCHAR, events BIGINT,
        first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, weight DOUBLE, matched_at TIMESTAMPTZ)""",
    """CREATE OR REPLACE VIEW intel_account_signals AS
        SELECT account_id,
               count(DISTINCT producer_id) AS producers,
               count(DISTINCT indicator_id) AS indicators,
               string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds,
               CAST(sum(events) AS BIGINT) AS events,
               min(first_ts) AS first_ts,
               1 - exp(sum(ln(greatest(1 - weight, 1e-9)))) AS score
        FROM intel_hits GROUP BY account_id""",
)


def insert_rows(store: DuckDBStore, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append ``rows`` (in the table's column order) to an intel table, through Arrow."""
    if not rows:
        return
    schema = store.sql(f"SELECT * FROM {table} LIMIT 0").schema  # noqa: S608 - our tables
    cols = list(zip(*rows, strict=True))
    batch = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)], schema=schema
    )
    con = store.con
    con.register("_dg_rows", batch)
    try:
        store.execute(f"INSERT INTO {table} SELECT * FROM _dg_rows")  # noqa: S608
    finally:
        con.unregister("_dg_rows")


def ensure_tables(store: DuckDBStore) -> None:
    """Create the intel tables and view if they do not exist."""
    for ddl in DDL:
        store.execute(ddl)
