"""Analyst actions: decisions written through the policy decision table, and their undo.

An action on an account, or on every member of a campaign, adds one policy action to the
subject's current decision (a throttle does not drop an earlier strip), except ``allow``,
which replaces it (a vetted customer gets nothing else) and always carries an expiry. Every
action is recorded with the decision it replaced per subject, so that
:func:`undo_action` can put back exactly what was there; a subject whose decision changed
since (another analyst, a later scan) is left alone and counted as skipped.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distillguard.console.state import ConsoleState
from distillguard.errors import InputError
from distillguard.policy.model import Decision, decision_from_json, decision_to_json, make_decision
from distillguard.policy.table import REDIS_DECISIONS, DecisionTable, MemoryPublisher


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action an analyst can take."""

    label: str
    policy_action: str
    help: str
    params: dict[str, Any] = field(default_factory=dict)


#: action kind -> spec. ``params`` are the defaults shown in the form.
ACTION_SPECS: dict[str, ActionSpec] = {
    "throttle": ActionSpec(
        "Throttle",
        "throttle",
        "tighter rate, token and concurrency limits",
        {"rpm": 10, "tpm": 20000, "concurrency": 2},
    ),
    "strip": ActionSpec("Strip reasoning/logprobs", "strip", "no logprobs, no raw reasoning"),
    "watermark": ActionSpec(
        "Strengthen watermark", "watermark", "stronger output watermark", {"strength": 2.0}
    ),
    "canary": ActionSpec("Plant canaries", "canary", "plant canary answers"),
    "require_verification": ActionSpec(
        "Require verification", "require_verification", "refuse until identity is verified"
    ),
    "suspend": ActionSpec("Suspend", "block", "refuse every request (account_blocked)"),
    "allow": ActionSpec("Allow-list", "allow", "vetted: no scan-driven action (needs expiry)"),
}


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What :func:`apply_action` did."""

    action_id: str
    kind: str
    subjects: int
    changed: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What :func:`undo_action` did."""

    action_id: str
    restored: int
    withdrawn: int
    skipped: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One recorded action (for the history lists)."""

    action_id: str
    target_kind: str
    target_id: str
    kind: str
    params: dict[str, Any]
    reason: str
    actor: str
    at: float
    subjects: int
    undone_at: float | None
    undone_by: str | None


def current_decisions(table: DecisionTable, subjects: Sequence[str]) -> dict[str, Decision]:
    """The live decisions of ``subjects`` (``kind:id``), reading only those from Redis."""
    now = time.time()
    pub = table.publisher
    client = getattr(pub, "client", None)
    found: dict[str, Decision] = {}
    if client is not None and subjects:
        import redis

        try:
            raw = client.hmget(REDIS_DECISIONS, list(subjects))
        except redis.RedisError as exc:
            from distillguard.errors import GatewayError

            raise GatewayError(f"redis: cannot read the decision table: {exc}") from exc
        for s, v in zip(subjects, raw, strict=True):
            if v is not None:
                found[s] = decision_from_json(v)
    elif isinstance(pub, MemoryPublisher):
        found = {s: pub.table[s] for s in subjects if s in pub.table}
    else:
        cur = pub.current()
        found = {s: cur[s] for s in subjects if s in cur}
    return {s: d for s, d in found.items() if d.active(now)}


def _merged(
    spec: ActionSpec, previous: Decision | None, params: dict[str, Any]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    if spec.policy_action == "allow" or previous is None or "allow" in previous.actions:
        return (spec.policy_action,), dict(params)
    actions = tuple(dict.fromkeys((*previous.actions, spec.policy_action)))
    return actions, {**previous.params, **params}


def _check_params(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    spec = ACTION_SPECS[kind]
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in spec.params:
            raise InputError(f"action {kind!r} takes no parameter {key!r}")
        if value in ("", None):
            continue
        try:
            out[key] = type(spec.params[key])(value)
        except (TypeError, ValueError):
            raise InputError(f"parameter {key!r}: expected a number, got {value!r}") from None
        if out[key] <= 0:
            raise InputError(f"parameter {key!r} must be positive, got {value!r}")
    return out


def apply_action(
    state: ConsoleState,
    table: DecisionTable,
    *,
    scan_id: str,
    target_kind: str,
    target_id: str,
    accounts: Sequence[str],
    kind: str,
    params: dict[str, Any],
    reason: str,
    actor: str,
    ttl_s: float | None = None,
) -> ActionResult:
    """Apply one action to ``accounts`` (one account, or a campaign's members).

    Raises:
        InputError: unknown action, bad parameter, missing reason, an allow-list without
            expiry, or no accounts.
    """
    if kind not in ACTION_SPECS:
        raise InputError(f"unknown action {kind!r}; known: {', '.join(ACTION_SPECS)}")
    if not reason.strip():
        raise InputError("a reason is required for every action")
    if kind == "allow" and not ttl_s:
        raise InputError("an allow-list entry needs an expiry")
    if not accounts:
        raise InputError("nothing to act on: no accounts")
    spec = ACTION_SPECS[kind]
    checked = _check_params(kind, params)
    action_id = "act_" + secrets.token_hex(6)
    subjects = [f"account:{a}" for a in accounts]
    current = current_decisions(table, subjects)
    items: list[tuple[str, str, str | None, str | None]] = []
    changed = unchanged = 0
    for account, subject in zip(accounts, subjects, strict=True):
        prev = current.get(subject)
        acts, prm = _merged(spec, prev, checked)
        if prev is not None and prev.actions == acts and prev.params == prm and kind != "allow":
            unchanged += 1
            continue
        d = make_decision(
            "account",
            account,
            acts,
            params=prm,
            reason=f"{reason.strip()} [{action_id}]",
            created_by=actor,
            ttl_s=ttl_s,
        )
        # DecisionTable.put re-reads the whole table per call; with one snapshot for the
        # batch we do the same three steps (publish, revoke the replaced, record) per subject.
        table.publisher.publish(d)
        if prev is not None:
            table.log.record_revoke(prev, actor, f"replaced by {d.decision_id}", time.time())
        table.log.record_put(d, actor)
        prev_json = decision_to_json(prev).decode() if prev is not None else None
        items.append((action_id, subject, d.decision_id, prev_json))
        changed += 1
    now = time.time()
    with state.tx() as db:
        db.execute(
            "INSERT INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                action_id,
                scan_id,
                target_kind,
                target_id,
                kind,
                json.dumps(checked, sort_keys=True),
                reason,
                actor,
                now,
                len(accounts),
            ),
        )
        db.executemany("INSERT INTO action_items VALUES (?, ?, ?, ?)", items)
        detail = {
            "id": action_id,
            "kind": kind,
            "params": checked,
            "reason": reason,
            "accounts": len(accounts),
            "changed": changed,
            "ttl_s": ttl_s,
        }
        state._audit_in(
            db, actor, f"action.{kind}", f"{target_kind}:{target_id}", json.dumps(detail), now
        )
    return ActionResult(action_id, kind, len(accounts), changed, unchanged)


def undo_action(
    state: ConsoleState, table: DecisionTable, action_id: str, *, actor: str
) -> UndoResult:
    """Put back, per subject, the decision the action replaced (or withdraw its decision).

    Raises:
        InputError: unknown action, or already undone.
    """
    rows = state.query(
        "SELECT target_kind, target_id, undone_at FROM actions WHERE action_id = ?", (action_id,)
    )
    if not rows:
        raise InputError(f"no action {action_id!r}")
    if rows[0][2] is not None:
        raise InputError(f"action {action_id} was already undone")
    target = f"{rows[0][0]}:{rows[0][1]}"
    items = state.query(
        "SELECT subject, decision_id, previous FROM action_items WHERE action_id = ?",
        (action_id,),
    )
    current = current_decisions(table, [s for s, _, _ in items])
    restored = withdrawn = skipped = 0
    now = time.time()
    for subject, decision_id, previous in items:
        cur = current.get(subject)
        if cur is None or cur.decision_id != decision_id:
            skipped += 1
            continue
        prev = decision_from_json(previous) if previous else None
        if prev is not None and prev.active(now):
            again = make_decision(
                prev.subject_kind,
                prev.subject_id,
                prev.actions,
                params=dict(prev.params),
                reason=prev.reason,
                created_by=prev.created_by,
                ttl_s=(prev.expires_at - now) if prev.expires_at is not None else None,
            )
            table.publisher.publish(again)
            table.log.record_revoke(cur, actor, f"undo of {action_id}", now)
            table.log.record_put(again, actor)
            restored += 1
        else:
            table.publisher.withdraw(subject)
            table.log.record_revoke(cur, actor, f"undo of {action_id}", now)
            withdrawn += 1
    with state.tx() as db:
        db.execute(
            "UPDATE actions SET undone_at = ?, undone_by = ? WHERE action_id = ?",
            (now, actor, action_id),
        )
        detail = {"id": action_id, "restored": restored, "withdrawn": withdrawn, "skipped": skipped}
        state._audit_in(db, actor, "action.undo", target, json.dumps(detail), now)
    return UndoResult(action_id, restored, withdrawn, skipped)


def action_history(
    state: ConsoleState, target_kind: str, target_id: str, limit: int = 50
) -> list[ActionRecord]:
    """Actions on one campaign or account, newest first."""
    rows = state.query(
        "SELECT action_id, target_kind, target_id, kind, params, reason, actor, at, subjects, "
        "undone_at, undone_by FROM actions WHERE target_kind = ? AND target_id = ? "
        "ORDER BY at DESC LIMIT ?",
        (target_kind, target_id, limit),
    )
    return [ActionRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), *r[5:]) for r in rows]
