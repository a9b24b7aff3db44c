"""Turn a scan's verdicts into decisions (``distillguard policy apply-scan RESULTS_DIR``).

The scan writes ``accounts.csv`` (``account_id,risk,verdict,campaign_id,top_reasons``). Each
verdict maps to actions through :class:`PolicyConfig`; decisions made by an analyst or an
``allow`` (a vetted customer) are never overwritten by a scan; a ``legit`` verdict withdraws
an earlier scan decision; re-applying the same results changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillguard.errors import InputError
from distillguard.policy.model import make_decision, parse_actions
from distillguard.policy.table import DecisionTable

REQUIRED_COLUMNS: tuple[str, ...] = ("account_id", "risk", "verdict", "campaign_id", "top_reasons")
VERDICTS: tuple[str, ...] = ("legit", "suspect", "campaign")


def _default_actions() -> dict[str, str]:
    return {
        "legit": "",
        "suspect": "strip+watermark",
        "campaign": "throttle+strip+watermark+canary",
    }


def _default_params() -> dict[str, Any]:
    return {"campaign": {"rpm": 10, "tpm": 20000, "concurrency": 2}}


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """``[policy]`` section.

    Attributes:
        verdict_actions: verdict -> actions joined with ``+`` ("" = no decision).
        verdict_params: verdict -> decision parameters (see ``distillguard.policy.ACTIONS``).
        min_risk: rows with a lower risk get no decision whatever their verdict.
        ttl_days: how long a scan decision lasts (0 = no expiry).
    """

    verdict_actions: dict[str, Any] = field(default_factory=_default_actions)
    verdict_params: dict[str, Any] = field(default_factory=_default_params)
    min_risk: float = 0.0
    ttl_days: float = 7.0


@dataclass(frozen=True, slots=True)
class ApplyScanResult:
    """What one ``apply-scan`` did (counts of rows)."""

    rows: int
    applied: int
    unchanged: int
    withdrawn: int
    kept_analyst: int
    below_risk: int


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise InputError(f"{path}: not found (expected the scan's accounts.csv)")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(missing)}")
        return [(reader.line_num, row) for row in reader]


def apply_scan(
    results_dir: str | Path, table: DecisionTable, config: PolicyConfig, *, actor: str
) -> ApplyScanResult:
    """Apply ``results_dir/accounts.csv`` to the decision table.

    Raises:
        InputError: the file is missing, lacks a column, or a row is invalid (names file:line).
    """
    path = Path(results_dir) / "accounts.csv"
    mapping = {v: str(config.verdict_actions.get(v, "") or "") for v in VERDICTS}
    for verdict, acts in mapping.items():
        if acts:
            try:
                parse_actions(acts)
            except InputError as exc:
                raise InputError(f"[policy] verdict_actions.{verdict}: {exc}") from None
    ttl = config.ttl_days * 86400 if config.ttl_days > 0 else None
    created_by = f"scan:{Path(results_dir).name}"
    applied = unchanged = withdrawn = kept = below = 0
    rows = _read_rows(path)
    current = {d.subject: d for d in table.active()}
    for line, row in rows:
        where = f"{path}:{line}"
        account = (row.get("account_id") or "").strip()
        verdict = (row.get("verdict") or "").strip()
        if not account:
            raise InputError(f"{where}: field 'account_id' is empty")
        if verdict not in VERDICTS:
            raise InputError(
                f"{where}: field 'verdict': {verdict!r} is not one of {', '.join(VERDICTS)}"
            )
        try:
            risk = float(row.get("risk") or "nan")
        except ValueError:
            raise InputError(
                f"{where}: field 'risk': {row.get('risk')!r} is not a number"
            ) from None
        if not 0.0 <= risk <= 1.0:
            raise InputError(f"{where}: field 'risk': {risk} is not in [0, 1]")
        existing = current.get(f"account:{account}")
        if existing is not None and not existing.created_by.startswith("scan:"):
            kept += 1
            continue
        acts = mapping[verdict] if risk >= config.min_risk else ""
        if risk < config.min_risk and mapping[verdict]:
            below += 1
        if not acts:
            if existing is not None:
                table.revoke("account", account, actor=actor, reason=f"scan verdict {verdict}")
                withdrawn += 1
            continue
        campaign = (row.get("campaign_id") or "").strip()
        reasons = (row.get("top_reasons") or "").strip()
        reason = f"scan verdict {verdict} (risk {risk:.2f}"
        reason += f", campaign {campaign})" if campaign else ")"
        if reasons:
            reason += f": {reasons}"
        params = dict(config.verdict_params.get(verdict, {}) or {})
        try:
            decision = make_decision(
                "account",
                account,
                acts,
                params=params,
                reason=reason,
                created_by=created_by,
                ttl_s=ttl,
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        if (
            existing is not None
            and existing.actions == decision.actions
            and existing.params == decision.params
            and existing.reason == decision.reason
        ):
            unchanged += 1
            continue
        table.put(decision, actor=actor)
        applied += 1
    return ApplyScanResult(len(rows), applied, unchanged, withdrawn, kept, below)
