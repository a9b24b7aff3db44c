"""Limits shared across replicas: requests/min, tokens/min and concurrency per subject.

:class:`RedisLimiter` admits a request against every subject (key, account, org) in one Lua
script (``limits.lua``), so N replicas enforce the configured limit, not N times it. The
window is 60 one-second buckets; time is the Redis server's. :class:`LocalLimiter` is the same
algorithm in process memory: the fallback while Redis is down (each replica then enforces
``limit / local_limit_divisor``) and the fake for unit tests. :class:`FailoverLimiter` picks
between them according to ``redis_failure``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from distillguard.gateway.resp import FastScript, RespClient, pack_items

log = logging.getLogger("distillguard.gateway")

DIMENSIONS: dict[int, str] = {1: "requests", 2: "tokens", 3: "concurrency"}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute limits of one subject; 0 means no limit."""

    rpm: int = 0
    tpm: int = 0
    concurrency: int = 0

    def any(self) -> bool:
        """True when at least one limit is set."""
        return bool(self.rpm or self.tpm or self.concurrency)


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a limit applies to: scope ``key``, ``account`` or ``org``, and an id."""

    scope: str
    id: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """The limiter's answer for one request.

    Attributes:
        allowed: admitted or not.
        scope: the subject scope that refused (``""`` when admitted).
        dimension: ``requests``, ``tokens`` or ``concurrency`` that refused.
        limit: the limit that refused.
        retry_after_s: when to retry.
        remaining_requests / limit_requests / remaining_tokens / limit_tokens: for the
            ``x-ratelimit-*`` headers (tightest subject; limit 0 = none).
        reset_s: when the tightest request window frees a slot.
        backend: ``redis``, ``local`` or ``none``.
    """

    allowed: bool
    scope: str = ""
    dimension: str = ""
    limit: int = 0
    retry_after_s: float = 0.0
    remaining_requests: int = 0
    limit_requests: int = 0
    remaining_tokens: int = 0
    limit_tokens: int = 0
    reset_s: float = 0.0
    backend: str = "none"


UNLIMITED = LimitDecision(True)


class LimiterUnavailable(Exception):
    """The shared limiter cannot be reached and the gateway fails closed."""


class Limiter(Protocol):
    """Admits and releases requests. Implementations must be safe to call concurrently."""

    async def acquire(self, subjects: list[Subject], request_id: str, cost: int) -> LimitDecision:
        """Admit a request estimated at ``cost`` tokens, or say which limit refuses it."""
        ...

    async def release(
        self, subjects: list[Subject], request_id: str, extra_tokens: int, backend: str
    ) -> None:
        """Free the request's concurrency slot and charge ``extra_tokens`` more tokens."""
        ...


def _script(name: str) -> str:
    return resources.files("distillguard.gateway").joinpath(name).read_text(encoding="utf-8")


def _rkey(s: Subject, kind: str) -> str:
    return f"dg:rl:{s.scope}:{s.id}:{kind}"


class RedisLimiter:
    """The shared limiter (one Lua script per admission, one per release).

    Args:
        client: a ``redis.asyncio.Redis``.
        fast: when given, the scripts run through this pipelined client instead of ``client``.
        lease_s: a concurrency slot left by a crashed replica frees itself after this.
    """

    def __init__(
        self, client: Any, *, lease_s: float = 600.0, fast: RespClient | None = None
    ) -> None:
        self.client = client
        self.lease_ms = int(lease_s * 1000)
        self._acquire: Any
        self._release: Any
        self._fast = fast is not None
        # RESP encoding of each subject list's keys and limits (they repeat request after
        # request; only the request id and the token count change)
        self._packed: dict[tuple[str, tuple[Subject, ...]], tuple[int, bytes, int, bytes]] = {}
        if fast is not None:  # pipelined, hiredis-parsed EVALSHA (see gateway/resp.py)
            self._acquire = FastScript(fast, _script("limits.lua"))
            self._release = FastScript(fast, _script("release.lua"))
        else:
            self._acquire = client.register_script(_script("limits.lua"))
            self._release = client.register_script(_script("release.lua"))

    def _pieces(self, op: str, subs: list[Subject]) -> tuple[int, bytes, int, bytes]:
        """(numkeys + keys count, their RESP, limit count, their RESP) of ``subs``, cached."""
        ck = (op, tuple(subs))
        hit = self._packed.get(ck)
        if hit is None:
            keys, lims = _keys_and_limits(op, subs)
            hit = (1 + len(keys), pack_items([len(keys), *keys]), len(lims), pack_items(lims))
            if len(self._packed) >= 10_000:  # bounded: subject lists are per key/account
                self._packed.clear()
            self._packed[ck] = hit
        return hit

    async def _run(self, op: str, subs: list[Subject], dynamic: list[Any]) -> Any:
        script = self._acquire if op == "acquire" else self._release
        if self._fast:
            nk, keys_b, nl, lims_b = self._pieces(op, subs)
            tail = b"%b%b%b" % (keys_b, pack_items(dynamic), lims_b)
            return await script.run_packed(nk + len(dynamic) + nl, tail)
        keys, lims = _keys_and_limits(op, subs)
        return await script(keys=keys, args=[*dynamic, *lims])

    async def acquire(self, subjects: list[Subject], request_id: str, cost: int) -> LimitDecision:
        subs = [s for s in subjects if s.limits.any()]
        if not subs:
            return UNLIMITED
        r = await self._run("acquire", subs, [request_id, self.lease_ms, cost])
        allowed, idx, dim, limit, retry, rem_r, lim_r, rem_t, lim_t, reset = (int(x) for x in r)
        return LimitDecision(
            allowed=bool(allowed),
            scope=subs[idx - 1].scope if idx else "",
            dimension=DIMENSIONS.get(dim, ""),
            limit=limit,
            retry_after_s=max(retry, 0) / 1000,
            remaining_requests=rem_r,
            limit_requests=lim_r,
            remaining_tokens=rem_t,
            limit_tokens=lim_t,
            reset_s=max(reset, 0) / 1000,
            backend="redis",
        )

    async def release(
        self, subjects: list[Subject], request_id: str, extra_tokens: int, backend: str
    ) -> None:
        subs = [s for s in subjects if s.limits.tpm or s.limits.concurrency]
        if not subs:
            return
        await self._run("release", subs, [request_id, extra_tokens])


def _keys_and_limits(op: str, subs: list[Subject]) -> tuple[list[str], list[int]]:
    """The script's keys and limits for ``subs``: ``acquire`` takes requests, tokens and
    concurrency per subject, ``release`` tokens and concurrency."""
    keys: list[str] = []
    lims: list[int] = []
    for s in subs:
        if op == "acquire":
            keys += [_rkey(s, "r"), _rkey(s, "t"), _rkey(s, "c")]
            lims += [s.limits.rpm, s.limits.tpm, s.limits.concurrency]
        else:
            keys += [_rkey(s, "t"), _rkey(s, "c")]
            lims += [s.limits.tpm, s.limits.concurrency]
    return keys, lims


class LocalLimiter:
    """The same sliding window in process memory (fallback and test fake).

    Args:
        divisor: each limit is divided by this (replicas that share the load while Redis is down).
        clock: seconds since the epoch; injectable for tests.
    """

    def __init__(self, *, divisor: int = 1, clock: Any = time.time) -> None:
        self.divisor = max(1, divisor)
        self.clock = clock
        self._req: dict[str, dict[int, int]] = defaultdict(dict)
        self._tok: dict[str, dict[int, int]] = defaultdict(dict)
        self._conc: dict[str, set[str]] = defaultdict(set)

    def _lim(self, value: int) -> int:
        return max(1, value // self.divisor) if value else 0

    @staticmethod
    def _window(buckets: dict[int, int], sec: int) -> tuple[int, int | None]:
        for b in [b for b in buckets if b <= sec - 60]:
            del buckets[b]
        return sum(buckets.values()), (min(buckets) if buckets else None)

    async def acquire(self, subjects: list[Subject], request_id: str, cost: int) -> LimitDecision:
        now = self.clock()
        sec = int(now)
        subs = [s for s in subjects if s.limits.any()]
        rem_r = rem_t = -1
        lim_r = lim_t = 0
        reset = 0.0
        for s in subs:
            key = f"{s.scope}:{s.id}"
            rpm, tpm, conc = (
                self._lim(s.limits.rpm),
                self._lim(s.limits.tpm),
                self._lim(s.limits.concurrency),
            )
            if rpm:
                used, oldest = self._window(self._req[key], sec)
                retry = (oldest + 60 - now) if oldest is not None else 1.0
                if used + 1 > rpm:
                    return LimitDecision(
                        False,
                        s.scope,
                        "requests",
                        rpm,
                        retry,
                        0,
                        rpm,
                        reset_s=retry,
                        backend="local",
                    )
                if rem_r < 0 or rpm - used - 1 < rem_r:
                    rem_r, lim_r, reset = rpm - used - 1, rpm, retry
            if tpm:
                used, oldest = self._window(self._tok[key], sec)
                retry = (oldest + 60 - now) if oldest is not None else 1.0
                if used + cost > tpm:
                    return LimitDecision(
                        False,
                        s.scope,
                        "tokens",
                        tpm,
                        retry,
                        remaining_tokens=max(tpm - used, 0),
                        limit_tokens=tpm,
                        reset_s=retry,
                        backend="local",
                    )
                if rem_t < 0 or tpm - used - cost < rem_t:
                    rem_t, lim_t = tpm - used - cost, tpm
            if conc and len(self._conc[key]) + 1 > conc:
                return LimitDecision(False, s.scope, "concurrency", conc, 1.0, backend="local")
        for s in subs:
            key = f"{s.scope}:{s.id}"
            if s.limits.rpm:
                self._req[key][sec] = self._req[key].get(sec, 0) + 1
            if s.limits.tpm:
                self._tok[key][sec] = self._tok[key].get(sec, 0) + cost
            if s.limits.concurrency:
                self._conc[key].add(request_id)
        return LimitDecision(
            True,
            remaining_requests=max(rem_r, 0),
            limit_requests=lim_r,
            remaining_tokens=max(rem_t, 0),
            limit_tokens=lim_t,
            reset_s=reset,
            backend="local",
        )

    async def release(
        self, subjects: list[Subject], request_id: str, extra_tokens: int, backend: str
    ) -> None:
        sec = int(self.clock())
        for s in subjects:
            key = f"{s.scope}:{s.id}"
            if s.limits.tpm and extra_tokens:
                self._tok[key][sec] = self._tok[key].get(sec, 0) + extra_tokens
            if s.limits.concurrency:
                self._conc[key].discard(request_id)


class FailoverLimiter:
    """Redis first; on a Redis error, the local limiter (fail-open) or refusal (fail-closed).

    Attributes:
        degraded: True while the last Redis call failed (exported as a metric).
    """

    def __init__(self, shared: Limiter, local: LocalLimiter, *, fail_open: bool) -> None:
        self.shared = shared
        self.local = local
        self.fail_open = fail_open
        self.degraded = False
        self.failures = 0

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if not self.degraded:
            log.warning(
                "limiter: redis unavailable (%s); %s",
                type(exc).__name__,
                "using local per-replica limits" if self.fail_open else "refusing requests",
            )
        self.degraded = True

    async def acquire(self, subjects: list[Subject], request_id: str, cost: int) -> LimitDecision:
        try:
            d = await self.shared.acquire(subjects, request_id, cost)
        except Exception as exc:  # noqa: BLE001 - any backend failure triggers the fallback
            self._failed(exc)
            if not self.fail_open:
                raise LimiterUnavailable(str(exc)) from exc
            return await self.local.acquire(subjects, request_id, cost)
        if self.degraded:
            log.warning("limiter: redis is back; shared limits restored")
        self.degraded = False
        return d

    async def release(
        self, subjects: list[Subject], request_id: str, extra_tokens: int, backend: str
    ) -> None:
        if backend == "local":
            await self.local.release(subjects, request_id, extra_tokens, backend)
            return
        try:
            await self.shared.release(subjects, request_id, extra_tokens, backend)
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            self._failed(exc)
