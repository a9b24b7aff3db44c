"""Campaigns out as STIX 2.1 bundles (``distillguard intel export``).

One bundle holds, per campaign: the producer's identity, the campaign (with a property
extension carrying risk and volume), an intrusion-set when the campaign is attributed,
attack-patterns for its MITRE ATLAS techniques, indicators (keyed-hashed identifiers, raw
only for fields the operator opted in, and template fingerprints), a sighting per indicator
with counts and time range, observed-data, relationships, and one TLP 2.0 marking.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.errors import InputError
from distillguard.intel import stix
from distillguard.intel.atlas import load_atlas
from distillguard.intel.config import IntelConfig
from distillguard.intel.fingerprint import (
    Fingerprint,
    ShingleHasher,
    build_fingerprints,
    containment,
    parse_hashes,
)
from distillguard.intel.indicators import (
    KIND_COLUMN,
    KIND_SQL,
    Candidate,
    candidates,
    hashed_kind,
    hashed_pattern,
    identifier_sco,
    raw_pattern,
)
from distillguard.intel.keys import CommunityKey
from distillguard.intel.results import Campaign, ScanResults, load_results
from distillguard.store import DuckDBStore

ACCOUNT_CHUNK = 500
MAX_COUNT = 999_999_999  # STIX 2.1 upper bound of sighting count / number_observed


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What one export produced."""

    bundle: dict[str, Any]
    campaigns: int
    indicators: dict[str, int]
    fingerprints: int
    filtered: dict[str, int]
    tlp: str
    raw_fields: tuple[str, ...] = field(default=())

    def write(self, path: str | Path) -> Path:
        """Write the bundle as JSON to ``path``."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.bundle, indent=1, ensure_ascii=False) + "\n", "utf-8")
        return p


class _Builder:
    """Accumulates the bundle's objects for one export."""

    def __init__(self, cfg: IntelConfig, key: CommunityKey, now: datetime, tlp: str) -> None:
        self.cfg, self.key, self.now = cfg, key, now
        self.ts = stix.timestamp(now)
        self.marking = stix.tlp_marking(tlp)
        self.producer = stix.producer_identity(cfg.producer_name, self.ts)
        self.pid = self.producer["id"]
        self.objects: dict[str, dict[str, Any]] = {}
        for obj in (self.marking, stix.distillguard_identity(), *stix.extension_definitions()):
            self.add(obj)
        self.add(self.producer)

    def add(self, obj: dict[str, Any]) -> str:
        self.objects.setdefault(obj["id"], obj)
        return str(obj["id"])

    def sdo(self, type_: str, id_: str, **props: Any) -> dict[str, Any]:
        obj = {
            "type": type_,
            "spec_version": stix.SPEC_VERSION,
            "id": id_,
            "created": self.ts,
            "modified": self.ts,
            "created_by_ref": self.pid,
            "object_marking_refs": [self.marking["id"]],
            **props,
        }
        self.add(obj)
        return obj

    def relationship(self, source: str, rel: str, target: str) -> None:
        rid = stix.sdo_id("relationship", self.pid, source, rel, target)
        self.sdo("relationship", rid, relationship_type=rel, source_ref=source, target_ref=target)

    def attack_pattern(self, atlas_id: str) -> str | None:
        tech = load_atlas().get(atlas_id)
        if tech is None or tech.kind == "tactic":
            return None
        atlas = load_atlas()
        phases = [
            {"kill_chain_name": "mitre-atlas", "phase_name": _slug(t.name)}
            for t in (atlas.get(x) for x in tech.tactics)
            if t is not None
        ]
        props: dict[str, Any] = {
            "name": tech.name,
            "description": tech.summary,
            "external_references": [tech.external_reference()],
        }
        if phases:
            props["kill_chain_phases"] = phases
        aid = stix.sdo_id("attack-pattern", self.pid, "atlas", tech.id)
        self.sdo("attack-pattern", aid, **props)
        return aid

    def indicator(
        self, campaign: Campaign, cid: str, name: str, pattern: str, first: datetime, tag: str
    ) -> str:
        iid = stix.sdo_id("indicator", self.pid, campaign.campaign_id, tag)
        until = max(self.now, first) + timedelta(days=self.cfg.valid_days)
        self.sdo(
            "indicator",
            iid,
            name=name,
            indicator_types=["malicious-activity"],
            pattern=pattern,
            pattern_type="stix",
            pattern_version="2.1",
            valid_from=stix.timestamp(first),
            valid_until=stix.timestamp(until),
            confidence=int(round(campaign.risk * 100)),
        )
        self.relationship(iid, "indicates", cid)
        return iid

    def sighting(self, iid: str, count: int, first: datetime, last: datetime) -> None:
        sid = stix.sdo_id("sighting", self.pid, iid)
        self.sdo(
            "sighting",
            sid,
            sighting_of_ref=iid,
            count=min(max(count, 1), MAX_COUNT),
            first_seen=stix.timestamp(first),
            last_seen=stix.timestamp(max(first, last)),
            where_sighted_refs=[self.pid],
        )


def _slug(name: str) -> str:
    return "-".join(name.lower().replace("&", "and").split())


def _campaign_objects(b: _Builder, c: Campaign, first: datetime, last: datetime) -> str:
    cid = stix.sdo_id("campaign", b.pid, c.campaign_id)
    ext = {
        "extension_type": "property-extension",
        "risk": round(c.risk, 4),
        "volume": c.volume,
        "account_count": len(c.accounts),
        "atlas_ids": list(c.atlas_ids),
        "evidence_kinds": list(c.evidence_kinds),
    }
    b.sdo(
        "campaign",
        cid,
        name=f"Model distillation campaign {c.campaign_id}",
        description=(
            f"{len(c.accounts)} accounts, {c.volume} requests, risk {c.risk:.2f}; detected "
            "by distillguard. Identifiers are keyed hashes under the community key."
        ),
        objective="Harvest model outputs at scale to train a copy (model distillation).",
        first_seen=stix.timestamp(first),
        last_seen=stix.timestamp(max(first, last)),
        extensions={stix.EXT_CAMPAIGN: ext},
    )
    for atlas_id in c.atlas_ids:
        aid = b.attack_pattern(atlas_id)
        if aid is not None:
            b.relationship(cid, "uses", aid)
    if c.actor:
        isid = stix.sdo_id("intrusion-set", b.pid, c.actor)
        b.sdo("intrusion-set", isid, name=c.actor, first_seen=stix.timestamp(first))
        b.relationship(cid, "attributed-to", isid)
    return cid


def _identifier_indicators(
    b: _Builder, c: Campaign, cid: str, cands: Sequence[Candidate], raw_fields: frozenset[str]
) -> list[str]:
    """Indicators, sightings and SCOs for one campaign's candidate values; the SCO ids."""
    scos: list[str] = []
    accounts = [x for x in cands if x.kind == "account" and "account_id" not in raw_fields]
    for x in cands:
        if x in accounts:
            continue
        raw = KIND_COLUMN[x.kind] in raw_fields
        kind = hashed_kind(x)
        digest = None if raw else b.key.digest(kind, x.value)
        pattern = (
            raw_pattern(x.kind, x.value) if raw else hashed_pattern(kind, [digest or ""], b.key)
        )
        label = "raw" if raw else "keyed hash"
        iid = b.indicator(
            c,
            cid,
            f"{c.campaign_id}: {kind} ({label})",
            pattern,
            x.first_seen,
            f"{kind}|{digest or x.value}",
        )
        b.sighting(iid, x.events, x.first_seen, x.last_seen)
        scos.append(b.add(identifier_sco(kind, b.key, digest, x.value if raw else None)))
    for start in range(0, len(accounts), ACCOUNT_CHUNK):
        chunk = accounts[start : start + ACCOUNT_CHUNK]
        digests = sorted(b.key.digest("account", x.value) for x in chunk)
        first = min(x.first_seen for x in chunk)
        last = max(x.last_seen for x in chunk)
        iid = b.indicator(
            c,
            cid,
            f"{c.campaign_id}: {len(chunk)} accounts (keyed hash)",
            hashed_pattern("account", digests, b.key),
            first,
            f"account|{digests[0]}",
        )
        b.sighting(iid, sum(x.events for x in chunk), first, last)
    return scos


def _fingerprints(
    store: DuckDBStore, c: Campaign, legit: pa.Table, key: CommunityKey, cfg: IntelConfig
) -> tuple[list[Fingerprint], int]:
    """Fingerprints of the campaign's templates that match (almost) none of the legit prompts."""
    members = pa.table({"account_id": pa.array(c.accounts, pa.string())})
    con = store.con
    con.register("_dg_fp_members", members)
    con.register("_dg_fp_legit", legit)
    try:
        rows = con.execute(
            "SELECT e.account_id, e.prompt_text FROM events e JOIN _dg_fp_members m "
            "ON m.account_id = e.account_id WHERE e.prompt_text IS NOT NULL "
            "ORDER BY hash(e.event_id) LIMIT 4000"
        ).fetchall()
        legit_rows = con.execute(
            "SELECT e.prompt_text FROM events e JOIN _dg_fp_legit l "
            "ON l.account_id = e.account_id WHERE e.prompt_text IS NOT NULL "
            "ORDER BY hash(e.event_id) LIMIT 4000"
        ).fetchall()
    finally:
        con.unregister("_dg_fp_members")
        con.unregister("_dg_fp_legit")
    fps = build_fingerprints(((a, t) for a, t in rows), key)
    if not fps or not legit_rows:
        return fps, 0
    hasher = ShingleHasher(key)
    legit_sets = [hasher.hash_text(t) for (t,) in legit_rows]
    kept = []
    for fp in fps:
        hs = parse_hashes(fp.hashes)
        hits = sum(1 for s in legit_sets if containment(hs, s) >= fp.threshold)
        if hits <= cfg.max_legit_prompt_share * len(legit_sets):
            kept.append(fp)
    return kept, len(fps) - len(kept)


def _fingerprint_objects(
    b: _Builder,
    c: Campaign,
    cid: str,
    fps: Sequence[Fingerprint],
    first: datetime,
    last: datetime,
) -> list[str]:
    scos = []
    for fp in fps:
        sco = {
            "type": stix.FINGERPRINT_TYPE,
            "spec_version": stix.SPEC_VERSION,
            "id": stix.sco_id(stix.FINGERPRINT_TYPE, {"digest": fp.digest}),
            "algorithm": fp.algorithm,
            "key_id": fp.key_id,
            "digest": fp.digest,
            "hashes": list(fp.hashes),
            "threshold": fp.threshold,
            "wrapper_size": fp.wrapper_size,
            "prompts": fp.prompts,
            "accounts": fp.accounts,
            "extensions": {stix.EXT_FINGERPRINT: {"extension_type": "new-sco"}},
        }
        scos.append(b.add(sco))
        t = stix.FINGERPRINT_TYPE
        pattern = f"[{t}:digest = {stix.quote(fp.digest)} AND {t}:key_id = {stix.quote(fp.key_id)}]"
        iid = b.indicator(
            c,
            cid,
            f"{c.campaign_id}: prompt-template fingerprint",
            pattern,
            first,
            f"template|{fp.digest}",
        )
        b.sighting(iid, fp.prompts, first, last)
    return scos


def export_bundle(
    results_dir: str | Path,
    store: DuckDBStore,
    key: CommunityKey,
    cfg: IntelConfig | None = None,
    *,
    tlp: str | None = None,
    include_raw: Sequence[str] | None = None,
    campaign_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Build one STIX 2.1 bundle from a scan's results and its event store.

    Args:
        results_dir: the scan's ``--out`` directory (``campaigns.json``, ``accounts.csv``).
        store: the DuckDB store holding the scanned ``events``.
        key: the community key identifiers are hashed with.
        cfg: the ``[intel]`` configuration (defaults when None).
        tlp: TLP 2.0 level for every object (default ``cfg.tlp``).
        include_raw: stored columns to export raw (default ``cfg.include_raw``: none).
        campaign_ids: export only these campaigns (default: all).
        now: the export time (default: now; fixed in tests).

    Raises:
        InputError: the results are missing or malformed, or a named campaign is unknown.
        ConfigError: unknown TLP level or raw field.
    """
    cfg = cfg or IntelConfig()
    level = (tlp or cfg.tlp).lower()
    raw_fields = tuple(include_raw if include_raw is not None else cfg.include_raw)
    cfg = IntelConfig(**{**_asdict(cfg), "tlp": level, "include_raw": raw_fields})
    results: ScanResults = load_results(results_dir)
    chosen = list(results.campaigns)
    if campaign_ids:
        known = {c.campaign_id for c in chosen}
        unknown = [x for x in campaign_ids if x not in known]
        if unknown:
            raise InputError(f"{results_dir}: unknown campaign(s) {', '.join(unknown)}")
        chosen = [c for c in chosen if c.campaign_id in set(campaign_ids)]
    b = _Builder(cfg, key, (now or datetime.now(UTC)).astimezone(UTC), level)
    members = pa.table(
        {
            "account_id": pa.array([a for c in chosen for a in c.accounts], pa.string()),
            "campaign_id": pa.array(
                [c.campaign_id for c in chosen for _ in c.accounts], pa.string()
            ),
        }
    )
    legit = pa.table({"account_id": pa.array(results.legit_accounts(), pa.string())})
    by_campaign: dict[str, list[Candidate]] = {}
    filtered: dict[str, int] = {}
    for kind in KIND_SQL:
        limit = 1_000_000 if kind == "account" else 500
        kept, dropped = candidates(
            store,
            members,
            legit,
            kind,
            min_campaign_accounts=cfg.min_campaign_accounts,
            max_legit_accounts=cfg.max_legit_accounts,
            limit=limit,
        )
        filtered[kind] = dropped
        for x in kept:
            by_campaign.setdefault(x.campaign_id, []).append(x)
    counts: dict[str, int] = {}
    n_fp = 0
    raw_set = frozenset(raw_fields)
    for c in chosen:
        cands = by_campaign.get(c.campaign_id, [])
        first = c.first_seen or min((x.first_seen for x in cands), default=b.now)
        last = c.last_seen or max((x.last_seen for x in cands), default=first)
        cid = _campaign_objects(b, c, first, last)
        scos = _identifier_indicators(b, c, cid, cands, raw_set)
        for x in cands:
            counts[x.kind] = counts.get(x.kind, 0) + 1
        fps, fp_dropped = _fingerprints(store, c, legit, key, cfg)
        filtered["template"] = filtered.get("template", 0) + fp_dropped
        scos += _fingerprint_objects(b, c, cid, fps, first, last)
        n_fp += len(fps)
        if scos:
            oid = stix.sdo_id("observed-data", b.pid, c.campaign_id)
            b.sdo(
                "observed-data",
                oid,
                first_observed=stix.timestamp(first),
                last_observed=stix.timestamp(max(first, last)),
                number_observed=min(max(c.volume, 1), MAX_COUNT),
                object_refs=scos,
            )
            b.relationship(cid, "related-to", oid)
    counts["template"] = n_fp
    return ExportResult(
        bundle=stix.bundle(list(b.objects.values())),
        campaigns=len(chosen),
        indicators=counts,
        fingerprints=n_fp,
        filtered=filtered,
        tlp=level,
        raw_fields=raw_fields,
    )


def _asdict(cfg: IntelConfig) -> dict[str, Any]:
    return {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
