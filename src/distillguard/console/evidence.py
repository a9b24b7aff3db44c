"""Evidence around a campaign: imported intel indicators and their hits, STIX export through
:mod:`distillguard.intel`, and watermark/canary audit reports written by ``distillguard audit``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.console.data import Page, ScanData
from distillguard.errors import InputError


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The headline of one audit report (``<name>.json``, maybe with ``<name>.html``)."""

    name: str
    path: Path
    mode: str
    suspect: str
    detected: tuple[str, ...]
    control_ok: bool | None
    scopes: tuple[str, ...]
    best_p: float | None
    started: str
    finished: str
    has_html: bool
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StixExport:
    """A campaign exported as a STIX 2.1 bundle."""

    campaign_id: str
    body: bytes
    objects: int
    indicators: dict[str, int]
    tlp: str


def _report(path: Path) -> AuditReport | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(d, dict) or "tested" not in d:
        return None
    keys = d.get("tested", {}).get("keys") or []
    ps = [float(k["p_holm"]) for k in keys if isinstance(k, dict) and "p_holm" in k]
    return AuditReport(
        name=path.stem,
        path=path,
        mode=str(d.get("mode", "")),
        suspect=str(d.get("suspect", "")),
        detected=tuple(str(s) for s in d.get("detected") or []),
        control_ok=d.get("control_ok") if isinstance(d.get("control_ok"), bool) else None,
        scopes=tuple(str(k.get("scope", "")) for k in keys if isinstance(k, dict)),
        best_p=min(ps) if ps else None,
        started=str(d.get("started", "")),
        finished=str(d.get("finished", "")),
        has_html=path.with_suffix(".html").is_file(),
        raw=d,
    )


def audit_reports(folder: Path | None) -> list[AuditReport]:
    """Every readable audit report in ``folder`` (newest first); [] when not configured."""
    if folder is None or not folder.is_dir():
        return []
    found = [r for p in sorted(folder.glob("*.json")) if (r := _report(p)) is not None]
    return sorted(found, key=lambda r: r.finished, reverse=True)


def audit_report(folder: Path | None, name: str) -> AuditReport | None:
    """The report called ``name`` (a file stem in ``folder``), or None."""
    if folder is None or not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = folder / f"{name}.json"
    return _report(path) if path.is_file() else None


def reports_for(
    reports: list[AuditReport], campaign_id: str, accounts: Collection[str]
) -> list[AuditReport]:
    """Reports whose tested scopes name the campaign or one of its accounts."""
    out = []
    for r in reports:
        for s in r.scopes:
            tail = s.split(":", 1)[-1]
            if campaign_id in s or tail in accounts:
                out.append(r)
                break
    return out


def indicators(data: ScanData, page: int, size: int) -> Page:
    """Imported indicators with how many local accounts each one hit."""
    if "intel_indicators" not in data.tables:
        return Page([], 0, page, size)
    hits = "intel_hits" in data.tables
    join = (
        "LEFT JOIN (SELECT indicator_id, count(DISTINCT account_id) AS accounts, "
        "sum(events) AS events FROM scan.intel_hits GROUP BY 1) h USING (indicator_id)"
        if hits
        else ""
    )
    cols = (
        "coalesce(h.accounts, 0) AS accounts, coalesce(h.events, 0) AS events"
        if hits
        else ("0 AS accounts, 0 AS events")
    )
    total = data.rows("SELECT count(*) AS n FROM scan.intel_indicators")
    rows = data.rows(
        f"""SELECT i.indicator_id, i.producer, i.kind, i.method, i.name, i.valid_until, i.tlp,
                   i.confidence, {cols}
            FROM scan.intel_indicators i {join}
            ORDER BY accounts DESC, i.indicator_id LIMIT ? OFFSET ?""",  # noqa: S608
        [size, (page - 1) * size],
    )
    return Page(rows, int(total[0]["n"]), page, size)


def indicator(data: ScanData, indicator_id: str) -> dict[str, Any] | None:
    """One imported indicator with the local accounts it hit (and their campaigns)."""
    if "intel_indicators" not in data.tables:
        return None
    rows = data.rows(
        "SELECT * FROM scan.intel_indicators WHERE indicator_id = ? LIMIT 1", [indicator_id]
    )
    if not rows:
        return None
    out = rows[0]
    out["hits"] = (
        data.rows(
            """SELECT h.account_id, h.events, h.first_ts, h.last_ts, h.weight, m.campaign_id
               FROM scan.intel_hits h LEFT JOIN c_members m USING (account_id)
               WHERE h.indicator_id = ? ORDER BY h.events DESC LIMIT 200""",
            [indicator_id],
        )
        if "intel_hits" in data.tables
        else []
    )
    return out


def export_stix(data: ScanData, campaign_id: str) -> StixExport:
    """Export one campaign as a STIX 2.1 bundle with :func:`distillguard.intel.export_bundle`.

    Uses the ``[intel]`` configuration (community key file, TLP, raw fields).

    Raises:
        ConfigError: no community key is configured.
        InputError: the campaign is unknown to the scan's results.
    """
    from distillguard.intel.config import load_intel_config
    from distillguard.intel.export import export_bundle
    from distillguard.intel.keys import load_key
    from distillguard.store import DuckDBStore

    if campaign_id not in data.campaigns:
        raise InputError(f"unknown campaign {campaign_id!r}")
    cfg = load_intel_config()
    key = load_key(cfg.community_key_file)
    store = DuckDBStore(data.db_path, read_only=True)
    try:
        res = export_bundle(data.results_dir, store, key, cfg, campaign_ids=[campaign_id])
    finally:
        store.con.close()
    body = (json.dumps(res.bundle, indent=1, ensure_ascii=False) + "\n").encode()
    return StixExport(campaign_id, body, len(res.bundle["objects"]), res.indicators, res.tlp)
