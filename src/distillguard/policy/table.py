"""The decision table: the current decision per subject, published to the gateway replicas,
with a durable history and an audit log of every change.

Two seams keep it deployable: a :class:`DecisionPublisher` is where replicas read the current
table (Redis in production, :class:`MemoryPublisher` in tests), and a :class:`DecisionLog` is
the durable record (:class:`StoreDecisionLog` writes the store's ``decisions`` and
``audit_log`` tables; the gateway ships changes through its spool instead, because DuckDB
allows one writing process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from distillguard.errors import GatewayError
from distillguard.policy.model import Decision, decision_from_json, decision_to_json

#: Redis keys of the published table.
REDIS_DECISIONS = "dg:policy:decisions"
REDIS_VERSION = "dg:policy:version"


class DecisionPublisher(Protocol):
    """Where gateway replicas read the current decision of each subject."""

    def publish(self, decision: Decision) -> None:
        """Make ``decision`` the current one for its subject."""
        ...

    def withdraw(self, subject: str) -> None:
        """Remove the current decision of ``subject`` (``kind:id``)."""
        ...

    def current(self) -> dict[str, Decision]:
        """All current decisions by subject."""
        ...


class DecisionLog(Protocol):
    """The durable history of decisions and the audit log."""

    def record_put(self, decision: Decision, actor: str) -> None:
        """Record a new decision."""
        ...

    def record_revoke(self, decision: Decision, actor: str, reason: str, at: float) -> None:
        """Record that ``decision`` stopped applying at ``at``."""
        ...


class MemoryPublisher:
    """An in-process publisher, for tests and single-process use."""

    def __init__(self) -> None:
        self.table: dict[str, Decision] = {}
        self.version = 0

    def publish(self, decision: Decision) -> None:
        self.table[decision.subject] = decision
        self.version += 1

    def withdraw(self, subject: str) -> None:
        if self.table.pop(subject, None) is not None:
            self.version += 1

    def current(self) -> dict[str, Decision]:
        return dict(self.table)


class RedisPublisher:
    """Publishes decisions in a Redis hash and bumps a version the replicas poll.

    Args:
        client: a synchronous ``redis.Redis``.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def _run(self, fn: Any, *args: Any) -> Any:
        import redis

        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise GatewayError(f"redis: cannot update the decision table: {exc}") from exc

    def publish(self, decision: Decision) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(REDIS_DECISIONS, decision.subject, decision_to_json(decision))
        pipe.incr(REDIS_VERSION)
        self._run(pipe.execute)

    def withdraw(self, subject: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(REDIS_DECISIONS, subject)
        pipe.incr(REDIS_VERSION)
        self._run(pipe.execute)

    def current(self) -> dict[str, Decision]:
        raw = self._run(self.client.hgetall, REDIS_DECISIONS)
        return {
            (k.decode() if isinstance(k, bytes) else k): decision_from_json(v)
            for k, v in raw.items()
        }


class MemoryLog:
    """A durable log that keeps everything in lists (tests)."""

    def __init__(self) -> None:
        self.puts: list[tuple[Decision, str]] = []
        self.revokes: list[tuple[Decision, str, str, float]] = []

    def record_put(self, decision: Decision, actor: str) -> None:
        self.puts.append((decision, actor))

    def record_revoke(self, decision: Decision, actor: str, reason: str, at: float) -> None:
        self.revokes.append((decision, actor, reason, at))


_json = msgspec.json.Encoder()


class StoreDecisionLog:
    """Writes the store's ``decisions`` and ``audit_log`` tables; idempotent on replay.

    Args:
        store: any store with ``execute`` (:class:`distillguard.store.DuckDBStore`).
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    def audit(self, ts: float, actor: str, action: str, subject: str, detail: str) -> None:
        """Append one audit line unless the same line is already there (replays)."""
        self.store.execute(
            "INSERT INTO audit_log SELECT to_timestamp(?), ?, ?, ?, ? WHERE NOT EXISTS ("
            "SELECT 1 FROM audit_log WHERE ts = to_timestamp(?) AND actor = ? AND action = ? "
            "AND subject = ?)",
            [ts, actor, action, subject, detail, ts, actor, action, subject],
        )

    def record_put(self, decision: Decision, actor: str) -> None:
        d = decision
        self.store.execute(
            "INSERT INTO decisions SELECT ?, ?, ?, ?, ?, ?, ?, to_timestamp(?), "
            "CASE WHEN ? IS NULL THEN NULL ELSE to_timestamp(?) END, NULL "
            "WHERE NOT EXISTS (SELECT 1 FROM decisions WHERE decision_id = ?)",
            [
                d.decision_id,
                d.subject_kind,
                d.subject_id,
                "+".join(d.actions),
                _json.encode(d.params).decode(),
                d.reason,
                d.created_by,
                d.created_at,
                d.expires_at,
                d.expires_at,
                d.decision_id,
            ],
        )
        self.audit(d.created_at, actor, "decision.put", d.subject, decision_to_json(d).decode())

    def record_revoke(self, decision: Decision, actor: str, reason: str, at: float) -> None:
        self.store.execute(
            "UPDATE decisions SET revoked_at = to_timestamp(?) "
            "WHERE decision_id = ? AND revoked_at IS NULL",
            [at, decision.decision_id],
        )
        detail = _json.encode({"decision_id": decision.decision_id, "reason": reason}).decode()
        self.audit(at, actor, "decision.revoke", decision.subject, detail)


@dataclass(frozen=True, slots=True)
class PutResult:
    """What :meth:`DecisionTable.put` did."""

    decision: Decision
    replaced: Decision | None


class DecisionTable:
    """The current decision per subject, with history and audit.

    Args:
        publisher: where replicas read decisions (Redis or memory).
        log: the durable record (store or spool).
    """

    def __init__(self, publisher: DecisionPublisher, log: DecisionLog) -> None:
        self.publisher = publisher
        self.log = log

    def get(self, subject_kind: str, subject_id: str) -> Decision | None:
        """The current, unexpired decision of a subject, or None."""
        d = self.publisher.current().get(f"{subject_kind}:{subject_id}")
        return d if d is not None and d.active(time.time()) else None

    def put(self, decision: Decision, *, actor: str) -> PutResult:
        """Make ``decision`` current for its subject, revoking the previous one."""
        previous = self.publisher.current().get(decision.subject)
        self.publisher.publish(decision)
        if previous is not None:
            self.log.record_revoke(
                previous, actor, f"replaced by {decision.decision_id}", time.time()
            )
        self.log.record_put(decision, actor)
        return PutResult(decision, previous)

    def revoke(
        self, subject_kind: str, subject_id: str, *, actor: str, reason: str
    ) -> Decision | None:
        """Withdraw the current decision of a subject; returns it, or None if there was none."""
        subject = f"{subject_kind}:{subject_id}"
        previous = self.publisher.current().get(subject)
        if previous is None:
            return None
        self.publisher.withdraw(subject)
        self.log.record_revoke(previous, actor, reason, time.time())
        return previous

    def active(self, now: float | None = None) -> list[Decision]:
        """All current decisions that have not expired, sorted by subject."""
        t = time.time() if now is None else now
        return sorted(
            (d for d in self.publisher.current().values() if d.active(t)),
            key=lambda d: d.subject,
        )
