"""Peers' bundles in (``distillguard intel import``): checked, stored with provenance.

Each accepted object lands in ``intel_objects``; each matchable indicator value in
``intel_indicators`` (one row per value, so an ``IN`` list of 500 account hashes is 500
rows), template fingerprints in ``intel_fingerprints``; the bundle and its report in
``intel_bundles``. Importing the same object version twice is a no-op.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distillguard.intel.bundle import BundleCheck, Issue, check_bundle
from distillguard.intel.config import IntelConfig
from distillguard.intel.keys import normalise
from distillguard.intel.patterns import Comparison, PatternSyntaxError, UnsupportedPattern, parse
from distillguard.intel.stix import FINGERPRINT_TYPE, IDENTIFIER_TYPE, parse_timestamp, tlp_of
from distillguard.intel.tables import ensure_tables, insert_rows
from distillguard.store import DuckDBStore

_UA_PATH = "extensions.'http-request-ext'.request_header.'User-Agent'"


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    """One matchable value of an indicator."""

    kind: str
    method: str  # "hmac", "raw" or "fingerprint"
    key_id: str | None
    value: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import did."""

    bundle_id: str
    source: str
    producer: str
    objects: int
    accepted: int
    rejected: int
    indicators: int
    values: int
    unmatched_indicators: int
    issues: tuple[Issue, ...]
    duplicate_bundle: bool = False


def _conjunction_values(conj: list[Comparison]) -> list[IndicatorValue]:
    """The matchable values of one conjunction, or [] when it is not one we match."""
    by = {(c.object_type, c.path): c for c in conj}
    ident = {c.path: c for c in conj if c.object_type == IDENTIFIER_TYPE}
    if ident:
        kind = ident.get("kind")
        if kind is None or kind.op != "=":
            return []
        key_id = ident["key_id"].values[0] if "key_id" in ident else None
        if "hmac_sha256" in ident:
            return [
                IndicatorValue(kind.values[0], "hmac", key_id, v.lower())
                for v in ident["hmac_sha256"].values
            ]
        if "raw_value" in ident:
            k = kind.values[0]
            return [
                IndicatorValue(k, "raw", None, normalise(k, v)) for v in ident["raw_value"].values
            ]
        return []
    fp = {c.path: c for c in conj if c.object_type == FINGERPRINT_TYPE}
    if "digest" in fp:
        key_id = fp["key_id"].values[0] if "key_id" in fp else None
        return [IndicatorValue("template", "fingerprint", key_id, fp["digest"].values[0])]
    out: list[IndicatorValue] = []
    for (otype, path), c in by.items():
        if otype in ("ipv4-addr", "ipv6-addr") and path == "value":
            if c.op == "ISSUBSET":
                try:
                    net = str(ipaddress.ip_network(c.values[0], strict=False))
                except ValueError:
                    continue
                out.append(IndicatorValue("cidr", "raw", None, net))
            else:
                k = "ipv6" if otype == "ipv6-addr" else "ipv4"
                out.extend(IndicatorValue(k, "raw", None, normalise(k, v)) for v in c.values)
        elif otype == "autonomous-system" and path == "number":
            out.extend(IndicatorValue("asn", "raw", None, normalise("asn", v)) for v in c.values)
        elif otype == "network-traffic" and path == _UA_PATH:
            out.extend(
                IndicatorValue("user_agent", "raw", None, normalise("user_agent", v))
                for v in c.values
            )
        elif otype == "domain-name" and path == "value":
            out.extend(
                IndicatorValue("email_domain", "raw", None, normalise("email_domain", v))
                for v in c.values
            )
        elif otype == "user-account" and path == "user_id":
            out.extend(IndicatorValue("account", "raw", None, v) for v in c.values)
    return out


def indicator_values(pattern: str) -> list[IndicatorValue]:
    """Matchable values of a STIX pattern ([] when none; raises on a bad pattern)."""
    try:
        dnf = parse(pattern)
    except UnsupportedPattern:
        return []
    except PatternSyntaxError:
        raise
    return [v for conj in dnf for v in _conjunction_values(conj)]


def _ts(value: Any) -> datetime | None:
    try:
        return parse_timestamp(str(value)) if value else None
    except ValueError:
        return None


def import_bundle(
    store: DuckDBStore,
    data: bytes,
    *,
    source: str = "",
    cfg: IntelConfig | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Check and store one bundle (raw JSON bytes).

    Raises:
        BundleRejected: the bundle as a whole is refused (size, depth, not a 2.1 bundle).
    """
    cfg = cfg or IntelConfig()
    checked: BundleCheck = check_bundle(
        data,
        max_bytes=cfg.max_bundle_bytes,
        max_objects=cfg.max_objects,
        max_depth=cfg.max_depth,
        source=source,
    )
    ensure_tables(store)
    received = now or datetime.now(UTC)
    sha = hashlib.sha256(data).hexdigest()
    dup = store.sql("SELECT 1 FROM intel_bundles WHERE sha256 = ?", [sha]).num_rows > 0
    objs = {o["id"]: o for o in checked.objects}
    identities = {k: v for k, v in objs.items() if v["type"] == "identity"}
    markings = [tlp_of(o.get("id", "")) for o in checked.objects]
    tlp = next((m for m in markings if m), None)
    producer_id = next(
        (o.get("created_by_ref") for o in checked.objects if o["type"] == "indicator"), None
    )
    producer_name = str(identities.get(str(producer_id), {}).get("name", producer_id or "?"))
    campaign_of: dict[str, str] = {}
    for o in checked.objects:
        if o["type"] == "relationship" and o.get("relationship_type") == "indicates":
            target = str(o.get("target_ref", ""))
            if target.startswith("campaign--"):
                campaign_of[str(o.get("source_ref"))] = target
    fingerprints = {o.get("digest"): o for o in checked.objects if o["type"] == FINGERPRINT_TYPE}
    issues = list(checked.issues)
    ind_rows: list[tuple[Any, ...]] = []
    fp_rows: list[tuple[Any, ...]] = []
    unmatched = 0
    n_indicators = 0
    existing = {
        (r["object_id"], r["modified"])
        for r in store.sql("SELECT object_id, modified FROM intel_objects").to_pylist()
    }
    obj_rows: list[tuple[Any, ...]] = []
    for o in checked.objects:
        version = str(o.get("modified", o.get("created", "")))
        if (o["id"], version) in existing:
            continue
        obj_rows.append(
            (
                o["id"],
                o["type"],
                version,
                checked.bundle_id,
                o.get("created_by_ref"),
                json.dumps(o, separators=(",", ":")),
            )
        )
        if o["type"] != "indicator" or o.get("pattern_type") != "stix" or o.get("revoked"):
            continue
        n_indicators += 1
        values = indicator_values(str(o["pattern"]))
        if not values:
            unmatched += 1
            continue
        i_tlp = next((tlp_of(m) for m in o.get("object_marking_refs", []) if tlp_of(m)), tlp)
        ref = campaign_of.get(o["id"])
        for v in values:
            if v.method == "fingerprint":
                fp = fingerprints.get(v.value)
                hashes = fp.get("hashes") if fp else None
                if not (isinstance(hashes, list) and all(isinstance(h, str) for h in hashes)):
                    issues.append(Issue(-1, o["id"], "warning", "fingerprint object missing"))
                    continue
                try:
                    [int(h, 16) for h in hashes]
                    threshold = float(fp.get("threshold", 0.5)) if fp else 0.5
                except (TypeError, ValueError):
                    issues.append(Issue(-1, o["id"], "warning", "fingerprint hashes not hex"))
                    continue
                fp_rows.append((o["id"], v.value, v.key_id, hashes, min(max(threshold, 0.1), 1.0)))
            ind_rows.append(
                (
                    o["id"],
                    version,
                    checked.bundle_id,
                    o.get("created_by_ref"),
                    producer_name,
                    ref,
                    str(o.get("name", ""))[:200],
                    v.kind,
                    v.method,
                    v.key_id,
                    v.value,
                    _ts(o.get("valid_from")),
                    _ts(o.get("valid_until")),
                    i_tlp,
                    o.get("confidence") if isinstance(o.get("confidence"), int) else None,
                )
            )
    insert_rows(store, "intel_objects", obj_rows)
    insert_rows(store, "intel_indicators", ind_rows)
    insert_rows(store, "intel_fingerprints", fp_rows)
    report = json.dumps([_issue(i) for i in issues])
    store.execute(
        "INSERT INTO intel_bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            checked.bundle_id,
            sha,
            source,
            received,
            producer_id,
            producer_name,
            tlp,
            len(checked.objects) + checked.rejected,
            len(checked.objects),
            checked.rejected,
            report,
        ],
    )
    return ImportResult(
        bundle_id=checked.bundle_id,
        source=source,
        producer=producer_name,
        objects=len(checked.objects) + checked.rejected,
        accepted=len(checked.objects),
        rejected=checked.rejected,
        indicators=n_indicators,
        values=len(ind_rows),
        unmatched_indicators=unmatched,
        issues=tuple(issues),
        duplicate_bundle=dup,
    )


def _issue(i: Issue) -> dict[str, Any]:
    return {"index": i.index, "object_id": i.object_id, "severity": i.severity, "reason": i.reason}
