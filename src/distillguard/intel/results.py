"""Reading the scan's output contract: ``accounts.csv`` and ``campaigns.json``.

The scan (``distillguard scan EVENTS --out DIR``) writes one row per account and a list of
campaigns. Only the fields named in docs/ARCHITECTURE's contract are relied on; tactics may
be strings or objects, and every MITRE ATLAS id found in them is used.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from distillguard.errors import InputError, RecordError
from distillguard.intel.stix import parse_timestamp

_ATLAS_ID = re.compile(r"AML\.T(?:A)?\d{4}(?:\.\d{3})?")


@dataclass(frozen=True, slots=True)
class Campaign:
    """One campaign as the scan reported it."""

    campaign_id: str
    accounts: tuple[str, ...]
    risk: float
    atlas_ids: tuple[str, ...]
    evidence_kinds: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None
    volume: int
    actor: str | None


@dataclass(frozen=True, slots=True)
class ScanResults:
    """The scan's campaigns and each account's verdict."""

    campaigns: tuple[Campaign, ...]
    verdicts: dict[str, str]

    def legit_accounts(self) -> list[str]:
        """Accounts the scan judged legit."""
        return [a for a, v in self.verdicts.items() if v == "legit"]


def atlas_ids_in(value: Any) -> list[str]:
    """Every MITRE ATLAS id in ``value`` (a string, or nested lists/dicts), in order."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, str):
            found.extend(_ATLAS_ID.findall(item))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return list(dict.fromkeys(found))


def _evidence_kinds(evidence: Any) -> tuple[str, ...]:
    """Names of the kinds of evidence (keys or ``kind``/``name`` fields), never values."""
    kinds: list[str] = []
    if isinstance(evidence, dict):
        kinds.extend(str(k) for k in evidence)
    elif isinstance(evidence, list):
        for item in evidence:
            if isinstance(item, dict):
                for key in ("kind", "type", "rule", "signal", "name"):
                    if isinstance(item.get(key), str):
                        kinds.append(item[key])
                        break
    clean = [k for k in kinds if re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", k)]
    return tuple(dict.fromkeys(clean))


def _ts(value: Any, where: str, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(str(value))
    except ValueError:
        raise RecordError(f"not a timestamp: {value!r}", source=where, field=field) from None


def _campaign(raw: Any, where: str, index: int) -> Campaign:
    if not isinstance(raw, dict):
        raise RecordError("a campaign must be an object", source=where, line=index + 1)
    cid = raw.get("campaign_id")
    accounts = raw.get("accounts")
    if not isinstance(cid, str | int) or cid == "":
        raise RecordError("missing campaign_id", source=where, line=index + 1, field="campaign_id")
    if not isinstance(accounts, list) or not all(isinstance(a, str | int) for a in accounts):
        raise RecordError(
            "accounts must be a list of ids", source=where, line=index + 1, field="accounts"
        )
    try:
        risk = float(raw.get("risk", 0.0) or 0.0)
        volume = int(raw.get("volume", 0) or 0)
    except (TypeError, ValueError):
        raise RecordError("risk/volume must be numbers", source=where, line=index + 1) from None
    actor = raw.get("actor") or raw.get("intrusion_set")
    return Campaign(
        campaign_id=str(cid),
        accounts=tuple(str(a) for a in accounts),
        risk=min(max(risk, 0.0), 1.0),
        atlas_ids=tuple(atlas_ids_in(raw.get("tactics", []))),
        evidence_kinds=_evidence_kinds(raw.get("evidence")),
        first_seen=_ts(raw.get("first_seen"), where, "first_seen"),
        last_seen=_ts(raw.get("last_seen"), where, "last_seen"),
        volume=max(volume, 0),
        actor=str(actor) if isinstance(actor, str) and actor else None,
    )


def load_results(results_dir: str | Path) -> ScanResults:
    """Read ``campaigns.json`` and ``accounts.csv`` from a scan's output directory.

    Raises:
        InputError: a file is missing or malformed (naming the file, and the record).
    """
    d = Path(results_dir)
    cpath, apath = d / "campaigns.json", d / "accounts.csv"
    for p in (cpath, apath):
        if not p.is_file():
            raise InputError(f"{p}: not found (is {d} the output of `distillguard scan`?)")
    try:
        raw = json.loads(cpath.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{cpath}: not valid JSON: {exc}") from None
    if isinstance(raw, dict) and isinstance(raw.get("campaigns"), list):
        raw = raw["campaigns"]
    if not isinstance(raw, list):
        raise InputError(f"{cpath}: expected a list of campaigns")
    campaigns = tuple(_campaign(c, str(cpath), i) for i, c in enumerate(raw))
    verdicts: dict[str, str] = {}
    with apath.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"account_id", "verdict"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{apath}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            verdicts[row["account_id"]] = (row.get("verdict") or "").strip()
    return ScanResults(campaigns=campaigns, verdicts=verdicts)
