"""Campaign statuses, dispositions and the decision log, kept in the console state.

Dispositions (true/false positive) are stored per account so that they can be exported as
a labels file (``account_id,campaign_id``) for ``distillguard eval`` without the scan they
came from; each marking can be withdrawn (the row is kept, with ``withdrawn_at``).
"""

from __future__ import annotations

import csv
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distillguard.console.state import ConsoleState
from distillguard.errors import InputError
from distillguard.policy.model import Decision, decision_to_json
from distillguard.policy.table import DecisionLog

#: campaign status -> meaning (the queue's filter).
STATUSES: dict[str, str] = {
    "new": "not looked at yet",
    "investigating": "an analyst is on it",
    "confirmed": "a real campaign (true positive)",
    "dismissed": "not a campaign (false positive)",
}

LABELS: dict[str, str] = {
    "true_positive": "confirmed",
    "false_positive": "dismissed",
}


@dataclass(frozen=True, slots=True)
class Disposition:
    """One marking (of a whole campaign or one account)."""

    disposition_id: str
    campaign_id: str
    label: str
    accounts: int
    actor: str
    at: float
    reason: str
    withdrawn: bool


@dataclass(frozen=True, slots=True)
class LabelsExport:
    """What :func:`export_labels` wrote."""

    path: Path
    accounts: int
    positives: int


def statuses(state: ConsoleState, scan_id: str) -> dict[str, str]:
    """campaign_id -> status for one scan (campaigns not listed are ``new``)."""
    return {
        c: s
        for c, s in state.query(
            "SELECT campaign_id, status FROM campaign_status WHERE scan_id = ?", (scan_id,)
        )
    }


def set_status(
    state: ConsoleState, scan_id: str, campaign_id: str, status: str, *, actor: str, note: str = ""
) -> None:
    """Set a campaign's status and audit it.

    Raises:
        InputError: unknown status.
    """
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; known: {', '.join(STATUSES)}")
    now = time.time()
    with state.tx() as db:
        row = db.execute(
            "SELECT status FROM campaign_status WHERE scan_id = ? AND campaign_id = ?",
            (scan_id, campaign_id),
        ).fetchone()
        db.execute(
            "INSERT OR REPLACE INTO campaign_status VALUES (?, ?, ?, ?, ?, ?)",
            (scan_id, campaign_id, status, actor, now, note),
        )
        detail = {"from": row[0] if row else "new", "to": status, "note": note, "scan": scan_id}
        state._audit_in(
            db, actor, "campaign.status", f"campaign:{campaign_id}", json.dumps(detail), now
        )


def add_disposition(
    state: ConsoleState,
    scan_id: str,
    campaign_id: str,
    accounts: Sequence[str],
    label: str,
    *,
    actor: str,
    reason: str,
) -> str:
    """Mark accounts (a campaign's members, or one account) as a true or false positive.

    Returns the disposition id. Marking a whole campaign also sets its status.

    Raises:
        InputError: unknown label, no accounts, or no reason.
    """
    if label not in LABELS:
        raise InputError(f"unknown label {label!r}; known: {', '.join(LABELS)}")
    if not accounts:
        raise InputError("nothing to mark: no accounts")
    if not reason.strip():
        raise InputError("a reason is required")
    did = "disp_" + secrets.token_hex(6)
    now = time.time()
    with state.tx() as db:
        db.executemany(
            "INSERT INTO dispositions VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [(did, scan_id, campaign_id, a, label, actor, now, reason) for a in accounts],
        )
        detail = {"label": label, "accounts": len(accounts), "reason": reason, "id": did}
        subject = f"campaign:{campaign_id}" if len(accounts) > 1 else f"account:{accounts[0]}"
        state._audit_in(db, actor, "disposition.add", subject, json.dumps(detail), now)
    return did


def withdraw_disposition(state: ConsoleState, disposition_id: str, *, actor: str) -> int:
    """Withdraw a marking; returns the number of account rows withdrawn.

    Raises:
        InputError: no such live disposition.
    """
    now = time.time()
    with state.tx() as db:
        rows = db.execute(
            "SELECT campaign_id, count(*) FROM dispositions WHERE disposition_id = ? "
            "AND withdrawn_at IS NULL GROUP BY 1",
            (disposition_id,),
        ).fetchall()
        if not rows:
            raise InputError(f"no live disposition {disposition_id!r}")
        db.execute(
            "UPDATE dispositions SET withdrawn_at = ? WHERE disposition_id = ?",
            (now, disposition_id),
        )
        state._audit_in(
            db,
            actor,
            "disposition.withdraw",
            f"campaign:{rows[0][0]}",
            json.dumps({"id": disposition_id}),
            now,
        )
    return int(rows[0][1])


def dispositions(
    state: ConsoleState, *, campaign_id: str | None = None, account_id: str | None = None
) -> list[Disposition]:
    """Markings of a campaign or an account, newest first."""
    where, params = (
        ("campaign_id = ?", [campaign_id]) if campaign_id else ("account_id = ?", [account_id])
    )
    sql = (
        "SELECT disposition_id, campaign_id, label, count(*), actor, at, reason, "  # noqa: S608
        "max(withdrawn_at IS NOT NULL) FROM dispositions WHERE " + where + " "
        "GROUP BY 1, 2, 3, 5, 6, 7 ORDER BY at DESC"
    )  # ``where`` is one of two fixed strings
    rows = state.query(
        sql,
        params,
    )
    return [Disposition(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], bool(r[7])) for r in rows]


def export_labels(state: ConsoleState, path: Path) -> LabelsExport:
    """Write the analysts' latest live marking per account as ``account_id,campaign_id``
    (empty campaign = legitimate), the labels format ``distillguard eval`` reads."""
    rows = state.query(
        "SELECT account_id, campaign_id, label FROM (SELECT account_id, campaign_id, label, "
        "row_number() OVER (PARTITION BY account_id ORDER BY at DESC) AS rn FROM dispositions "
        "WHERE withdrawn_at IS NULL) WHERE rn = 1 ORDER BY account_id"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pos = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(("account_id", "campaign_id"))
        for account, campaign, label in rows:
            tp = label == "true_positive"
            pos += tp
            w.writerow((account, campaign if tp else ""))
    return LabelsExport(path, len(rows), pos)


class ConsoleDecisionLog:
    """A :class:`distillguard.policy.DecisionLog` writing the console state's ``decisions``
    table and audit log, and forwarding to another log (the gateway spool) when given."""

    def __init__(self, state: ConsoleState, forward: DecisionLog | None = None) -> None:
        self.state = state
        self.forward = forward

    def record_put(self, decision: Decision, actor: str) -> None:
        d = decision
        with self.state.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    d.decision_id,
                    d.subject_kind,
                    d.subject_id,
                    "+".join(d.actions),
                    json.dumps(d.params, sort_keys=True),
                    d.reason,
                    d.created_by,
                    d.created_at,
                    d.expires_at,
                ),
            )
            self.state._audit_in(
                db, actor, "decision.put", d.subject, decision_to_json(d).decode(), d.created_at
            )
        if self.forward is not None:
            self.forward.record_put(decision, actor)

    def record_revoke(self, decision: Decision, actor: str, reason: str, at: float) -> None:
        with self.state.tx() as db:
            db.execute(
                "UPDATE decisions SET revoked_at = ? WHERE decision_id = ? AND revoked_at IS NULL",
                (at, decision.decision_id),
            )
            detail = json.dumps({"decision_id": decision.decision_id, "reason": reason})
            self.state._audit_in(db, actor, "decision.revoke", decision.subject, detail, at)
        if self.forward is not None:
            self.forward.record_revoke(decision, actor, reason, at)
