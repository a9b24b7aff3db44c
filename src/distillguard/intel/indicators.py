"""Which identifier values of a campaign become indicators, and their STIX patterns.

A value is worth sharing when it marks the campaign and not the exporter's good customers:
infrastructure values (IPs, /24s, ASNs, user agents, e-mail domains) need at least
``min_campaign_accounts`` campaign accounts and at most ``max_legit_accounts`` legit ones;
account ids and payment fingerprints are the campaign's own and need one account (and no
legit one). All the aggregation is SQL over the ``events`` table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from distillguard.intel.keys import CommunityKey
from distillguard.intel.stix import IDENTIFIER_TYPE, quote
from distillguard.store import DuckDBStore

#: kind -> SQL expression over ``events e`` giving the value (NULL when absent).
KIND_SQL: dict[str, str] = {
    "ip": "e.client_ip",
    "cidr": (
        "CASE WHEN regexp_matches(e.client_ip, '^\\d+\\.\\d+\\.\\d+\\.\\d+$') THEN "
        "regexp_extract(e.client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' END"
    ),
    "asn": "CAST(e.client_asn AS VARCHAR)",
    "user_agent": "e.client_user_agent",
    "email_domain": "lower(e.account_email_domain)",
    "payment": "e.account_payment_fingerprint",
    "account": "e.account_id",
}
#: kind -> the stored column an operator names to export it raw.
KIND_COLUMN: dict[str, str] = {
    "ip": "client_ip",
    "cidr": "client_ip",
    "asn": "client_asn",
    "user_agent": "client_user_agent",
    "email_domain": "account_email_domain",
    "payment": "account_payment_fingerprint",
    "account": "account_id",
}
#: Kinds that belong to the campaign itself (one account suffices).
OWN_KINDS = frozenset({"payment", "account"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One identifier value seen in a campaign."""

    campaign_id: str
    kind: str
    value: str
    events: int
    accounts: int
    legit_accounts: int
    first_seen: datetime
    last_seen: datetime


def ip_kind(value: str) -> str:
    """``ipv4`` or ``ipv6`` (``ipv4`` for unparseable values, hashed as given)."""
    try:
        return "ipv6" if ipaddress.ip_address(value.strip()).version == 6 else "ipv4"
    except ValueError:
        return "ipv4"


def candidates(
    store: DuckDBStore,
    members: pa.Table,
    legit: pa.Table,
    kind: str,
    *,
    min_campaign_accounts: int,
    max_legit_accounts: int,
    limit: int,
) -> tuple[list[Candidate], int]:
    """Values of ``kind`` worth sharing per campaign, and how many were filtered out.

    ``members`` is ``(account_id, campaign_id)``; ``legit`` is ``(account_id)``.
    """
    expr = KIND_SQL[kind]
    need = 1 if kind in OWN_KINDS else min_campaign_accounts
    con = store.con
    con.register("_dg_members", members)
    con.register("_dg_legit", legit)
    try:
        rows = con.execute(
            f"""
            WITH v AS (SELECT {expr} AS value, e.account_id, e.ts FROM events e
                       WHERE {expr} IS NOT NULL AND {expr} <> ''),
            c AS (SELECT m.campaign_id, v.value, count(*) AS n,
                         count(DISTINCT v.account_id) AS accts, min(v.ts) AS f, max(v.ts) AS l
                  FROM v JOIN _dg_members m ON m.account_id = v.account_id GROUP BY 1, 2),
            g AS (SELECT v.value, count(DISTINCT v.account_id) AS legit
                  FROM v JOIN _dg_legit l ON l.account_id = v.account_id GROUP BY 1)
            SELECT c.campaign_id, c.value, c.n, c.accts, coalesce(g.legit, 0), c.f, c.l
            FROM c LEFT JOIN g ON g.value = c.value
            ORDER BY c.campaign_id, c.n DESC, c.value
            """  # noqa: S608 - expr comes from the fixed KIND_SQL registry
        ).fetchall()
    finally:
        con.unregister("_dg_members")
        con.unregister("_dg_legit")
    kept: list[Candidate] = []
    dropped = 0
    per_campaign: dict[str, int] = {}
    for cid, value, n, accts, legit_n, first, last in rows:
        if accts < need or legit_n > max_legit_accounts:
            dropped += 1
            continue
        if per_campaign.get(cid, 0) >= limit:
            dropped += 1
            continue
        per_campaign[cid] = per_campaign.get(cid, 0) + 1
        kept.append(Candidate(cid, kind, str(value), int(n), int(accts), int(legit_n), first, last))
    return kept, dropped


def hashed_kind(c: Candidate) -> str:
    """The keyed-hash kind of a candidate (``ip`` splits into ``ipv4``/``ipv6``)."""
    return ip_kind(c.value) if c.kind == "ip" else c.kind


def raw_pattern(kind: str, value: str) -> str:
    """A standard STIX pattern for a raw value (used only when the operator opted in)."""
    if kind == "ip":
        t = "ipv6-addr" if ip_kind(value) == "ipv6" else "ipv4-addr"
        return f"[{t}:value = {quote(value)}]"
    if kind == "cidr":
        return f"[ipv4-addr:value ISSUBSET {quote(value)}]"
    if kind == "asn":
        return f"[autonomous-system:number = {int(value)}]"
    if kind == "user_agent":
        return (
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
            f"{quote(value)}]"
        )
    if kind == "email_domain":
        return f"[domain-name:value = {quote(value)}]"
    if kind == "account":
        return f"[user-account:user_id = {quote(value)}]"
    return (
        f"[{IDENTIFIER_TYPE}:kind = {quote(kind)} AND {IDENTIFIER_TYPE}:raw_value = {quote(value)}]"
    )


def hashed_pattern(kind: str, digests: list[str], key: CommunityKey) -> str:
    """A pattern over our keyed-identifier SCO for one or many digests of ``kind``."""
    if len(digests) == 1:
        test = f"{IDENTIFIER_TYPE}:hmac_sha256 = {quote(digests[0])}"
    else:
        test = f"{IDENTIFIER_TYPE}:hmac_sha256 IN (" + ", ".join(quote(d) for d in digests) + ")"
    return (
        f"[{IDENTIFIER_TYPE}:kind = {quote(kind)} AND {IDENTIFIER_TYPE}:key_id = "
        f"{quote(key.key_id)} AND {test}]"
    )


def identifier_sco(
    kind: str, key: CommunityKey, digest: str | None, raw: str | None
) -> dict[str, Any]:
    """Our keyed-identifier SCO (hash, or raw value when opted in)."""
    from distillguard.intel.stix import EXT_IDENTIFIER, SPEC_VERSION, sco_id

    contributing: dict[str, Any] = {"kind": kind}
    if digest is not None:
        contributing["hmac_sha256"] = digest
    if raw is not None:
        contributing["raw_value"] = raw
    obj: dict[str, Any] = {
        "type": IDENTIFIER_TYPE,
        "spec_version": SPEC_VERSION,
        "id": sco_id(IDENTIFIER_TYPE, contributing),
        **contributing,
        "extensions": {EXT_IDENTIFIER: {"extension_type": "new-sco"}},
    }
    if digest is not None:
        obj["key_id"] = key.key_id
    return obj
