"""Control records: key and decision changes shipped through the spool to the single store
writer, so that the durable copy and the audit log live in the store without a second
DuckDB writer. A control line starts with ``{"_dg_control":``; every other line is an event.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from distillguard.gateway.keys import KeyRecord
from distillguard.gateway.spool import SpoolWriter
from distillguard.policy.model import Decision
from distillguard.policy.table import StoreDecisionLog

CONTROL_PREFIX = b'{"_dg_control":'

API_KEYS_DDL = """CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR, key_hash VARCHAR, account_id VARCHAR, org_id VARCHAR, name VARCHAR,
    created_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ)"""

_enc = msgspec.json.Encoder()


class ControlRecord(msgspec.Struct, kw_only=True):
    """One control line."""

    _dg_control: str = msgspec.field(name="_dg_control")
    actor: str
    ts: float
    decision: Decision | None = None
    key: KeyRecord | None = None
    reason: str = ""


_dec = msgspec.json.Decoder(ControlRecord)


def control_line(
    kind: str,
    *,
    actor: str,
    decision: Decision | None = None,
    key: KeyRecord | None = None,
    reason: str = "",
    ts: float | None = None,
) -> bytes:
    """Encode one control record (``decision.put``, ``decision.revoke``, ``key.create``,
    ``key.revoke``)."""
    rec = ControlRecord(
        _dg_control=kind,
        actor=actor,
        ts=time.time() if ts is None else ts,
        decision=decision,
        key=key,
        reason=reason,
    )
    line = _enc.encode(rec)
    assert line.startswith(CONTROL_PREFIX)
    return line


def decode_control(line: bytes) -> ControlRecord:
    """Decode a control line (raises msgspec errors on garbage)."""
    return _dec.decode(line)


def apply_control(store: Any, rec: ControlRecord) -> None:
    """Write one control record into the store (idempotent, so replays are harmless).

    Raises:
        ValueError: an unknown control kind or a record missing its payload.
    """
    kind = rec._dg_control
    log = StoreDecisionLog(store)
    if kind == "decision.put" and rec.decision is not None:
        log.record_put(rec.decision, rec.actor)
    elif kind == "decision.revoke" and rec.decision is not None:
        log.record_revoke(rec.decision, rec.actor, rec.reason, rec.ts)
    elif kind in ("key.create", "key.revoke") and rec.key is not None:
        k = rec.key
        store.execute(API_KEYS_DDL)
        store.execute("DELETE FROM api_keys WHERE key_id = ?", [k.key_id])
        store.execute(
            "INSERT INTO api_keys SELECT ?, ?, ?, ?, ?, to_timestamp(?), "
            "CASE WHEN ? IS NULL THEN NULL ELSE to_timestamp(?) END",
            [
                k.key_id,
                k.key_hash,
                k.account_id,
                k.org_id,
                k.name,
                k.created_at,
                k.revoked_at,
                k.revoked_at,
            ],
        )
        detail = _enc.encode({"key_id": k.key_id, "org_id": k.org_id}).decode()
        log.audit(rec.ts, rec.actor, kind, f"account:{k.account_id}", detail)
    else:
        raise ValueError(f"unknown or incomplete control record {kind!r}")


class SpoolDecisionLog:
    """A :class:`distillguard.policy.DecisionLog` that ships changes through the spool."""

    def __init__(self, writer: SpoolWriter) -> None:
        self.writer = writer

    def record_put(self, decision: Decision, actor: str) -> None:
        self.writer.append(control_line("decision.put", actor=actor, decision=decision))

    def record_revoke(self, decision: Decision, actor: str, reason: str, at: float) -> None:
        self.writer.append(
            control_line("decision.revoke", actor=actor, decision=decision, reason=reason, ts=at)
        )


class SpoolKeyJournal:
    """A :data:`distillguard.gateway.keys.Journal` that ships key changes through the spool."""

    def __init__(self, writer: SpoolWriter) -> None:
        self.writer = writer

    def __call__(self, change: str, record: KeyRecord, actor: str) -> None:
        self.writer.append(control_line(change, actor=actor, key=record))
