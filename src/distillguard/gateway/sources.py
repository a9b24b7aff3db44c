"""Where a replica reads keys and decisions, and the local caches that keep the request path
free of Redis round trips for policy.

A replica polls two version counters every ``policy_refresh_s`` (one ``MGET``); when the
decision version moves it reloads the decision table (one ``HGETALL``), when the key version
moves it forgets cached keys. Changes therefore reach every replica within one refresh
interval. While Redis is down the last snapshot keeps serving (fail-open) and the metric
``distillguard_gateway_dependency_up{dependency="redis"}`` drops to 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from distillguard.gateway.keys import (
    REDIS_KEYS,
    REDIS_KEYS_VERSION,
    MemoryKeyBackend,
    encode_record,
)
from distillguard.policy.model import Decision, decision_from_json
from distillguard.policy.table import REDIS_DECISIONS, REDIS_VERSION, MemoryPublisher

log = logging.getLogger("distillguard.gateway")


class ControlSource(Protocol):
    """Read side of keys and decisions (async)."""

    async def versions(self) -> tuple[int, int]:
        """(decision version, key version)."""
        ...

    async def decisions(self) -> dict[str, Decision]:
        """The whole decision table by subject."""
        ...

    async def key(self, key_id: str) -> bytes | None:
        """The JSON record of a key, or None."""
        ...


class RedisSource:
    """Keys and decisions from Redis (``redis.asyncio.Redis``)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def versions(self) -> tuple[int, int]:
        a, b = await self.client.mget(REDIS_VERSION, REDIS_KEYS_VERSION)
        return int(a or 0), int(b or 0)

    async def decisions(self) -> dict[str, Decision]:
        raw = await self.client.hgetall(REDIS_DECISIONS)
        out: dict[str, Decision] = {}
        for k, v in raw.items():
            key = k.decode() if isinstance(k, bytes) else str(k)
            try:
                out[key] = decision_from_json(v)
            except Exception:  # noqa: BLE001 - one bad row must not hide the others
                log.error("policy: undecodable decision for %s in redis; ignored", key)
        return out

    async def key(self, key_id: str) -> bytes | None:
        raw = await self.client.hget(REDIS_KEYS, key_id)
        return bytes(raw) if raw is not None else None


class MemorySource:
    """Keys and decisions from in-process fakes (tests and single-process demos)."""

    def __init__(self, publisher: MemoryPublisher, keys: MemoryKeyBackend) -> None:
        self.publisher = publisher
        self.keys = keys
        self.key_version = 0

    async def versions(self) -> tuple[int, int]:
        return self.publisher.version, self.key_version

    async def decisions(self) -> dict[str, Decision]:
        return self.publisher.current()

    async def key(self, key_id: str) -> bytes | None:
        rec = self.keys.get(key_id)
        return encode_record(rec) if rec is not None else None


class PolicyCache:
    """This replica's copy of the decision table, refreshed by :meth:`poll`."""

    def __init__(self, source: ControlSource) -> None:
        self.source = source
        self.table: dict[str, Decision] = {}
        self.version = -1
        self.key_version = -1
        self.healthy = True
        self.loaded_at = 0.0

    def lookup(self, account_id: str, org_id: str, now: float) -> list[Decision]:
        """Active decisions for a request: the account's first, then the org's."""
        out: list[Decision] = []
        d = self.table.get("account:" + account_id)
        if d is not None and d.active(now):
            out.append(d)
        if org_id:
            d = self.table.get("org:" + org_id)
            if d is not None and d.active(now):
                out.append(d)
        return out

    async def refresh(self) -> tuple[bool, bool]:
        """Poll versions; reload what changed. Returns (decisions changed, keys changed).

        Raises whatever the source raises (the caller marks Redis unhealthy)."""
        dv, kv = await self.source.versions()
        changed_d = dv != self.version
        if changed_d:
            self.table = await self.source.decisions()
            self.version = dv
            self.loaded_at = time.time()
        changed_k = kv != self.key_version
        self.key_version = kv
        return changed_d, changed_k

    async def poll(self, interval: float, on_keys_changed: Any, on_health: Any) -> None:
        """Refresh forever (cancel to stop)."""
        while True:
            try:
                _, changed_k = await asyncio.wait_for(self.refresh(), timeout=max(interval, 1.0))
                if changed_k:
                    on_keys_changed()
                if not self.healthy:
                    log.warning("policy: redis is back; decision table version %d", self.version)
                self.healthy = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the last snapshot and retry
                if self.healthy:
                    log.warning(
                        "policy: cannot refresh from redis (%s); serving the last "
                        "snapshot of %d decisions",
                        type(exc).__name__,
                        len(self.table),
                    )
                self.healthy = False
            on_health(self.healthy)
            await asyncio.sleep(interval)
