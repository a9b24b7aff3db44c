"""API keys: issued once, stored only as a keyed hash, checked in constant time.

A key reads ``dg_<key_id>_<secret>``. The public ``key_id`` finds the record; the stored
HMAC-SHA256 (keyed by the server's ``key_secret``) of the whole key is compared with
:func:`hmac.compare_digest`. The raw key is returned once, by ``create``/``rotate``, and never
stored or logged. Records live in Redis (``dg:keys``), shared by every replica; each change is
also written to the durable journal (the spool, loaded into the store's ``api_keys`` table).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from distillguard.errors import GatewayError, InputError

REDIS_KEYS = "dg:keys"
REDIS_KEYS_VERSION = "dg:keys:version"
_KEY_RE = re.compile(r"^dg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is stored about one key (never the key itself)."""

    key_id: str
    key_hash: str
    account_id: str
    org_id: str = ""
    name: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly issued key. ``raw_key`` is shown to the caller once and kept nowhere."""

    raw_key: str
    record: KeyRecord


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(KeyRecord)


def hash_key(secret: bytes, raw_key: str) -> str:
    """HMAC-SHA256 of ``raw_key`` under the server secret, hex."""
    return hmac.new(secret, raw_key.encode(), hashlib.sha256).hexdigest()


def parse_key_id(raw_key: str) -> str | None:
    """The ``key_id`` of a well-formed key, or None."""
    m = _KEY_RE.match(raw_key)
    return m.group(1) if m else None


def new_raw_key() -> tuple[str, str]:
    """Return (key_id, raw key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"dg_{key_id}_{secrets.token_urlsafe(30)}"


def encode_record(record: KeyRecord) -> bytes:
    """JSON of a key record."""
    return _enc.encode(record)


def decode_record(data: bytes | str) -> KeyRecord:
    """Decode a key record."""
    return _dec.decode(data)


class KeyBackend(Protocol):
    """Where key records live (synchronous: admin CLI and admin API)."""

    def get(self, key_id: str) -> KeyRecord | None:
        """The record of ``key_id`` or None."""
        ...

    def put(self, record: KeyRecord) -> None:
        """Store or replace a record and tell the replicas."""
        ...

    def all(self) -> list[KeyRecord]:
        """Every record."""
        ...


class MemoryKeyBackend:
    """Key records in a dict (tests, single process)."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}

    def get(self, key_id: str) -> KeyRecord | None:
        return self.records.get(key_id)

    def put(self, record: KeyRecord) -> None:
        self.records[record.key_id] = record

    def all(self) -> list[KeyRecord]:
        return list(self.records.values())


class RedisKeyBackend:
    """Key records in the Redis hash ``dg:keys``; a version counter tells replicas to reload."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        import redis

        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise GatewayError(f"redis: key store unavailable: {exc}") from exc

    def get(self, key_id: str) -> KeyRecord | None:
        raw = self._run(self.client.hget, REDIS_KEYS, key_id)
        return decode_record(raw) if raw else None

    def put(self, record: KeyRecord) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(REDIS_KEYS, record.key_id, encode_record(record))
        pipe.incr(REDIS_KEYS_VERSION)
        self._run(pipe.execute)

    def all(self) -> list[KeyRecord]:
        raw = self._run(self.client.hgetall, REDIS_KEYS)
        return [decode_record(v) for v in raw.values()]


#: a journal receives ("key.put", record) for the durable copy
Journal = Callable[[str, KeyRecord, str], None]


class KeyAdmin:
    """Create, rotate, revoke and list keys.

    Args:
        backend: where records live.
        secret: the server's key secret.
        journal: called with (change, record, actor) for the durable copy and audit log.
    """

    def __init__(self, backend: KeyBackend, secret: bytes, journal: Journal | None = None) -> None:
        self.backend = backend
        self.secret = secret
        self.journal = journal

    def _record(self, change: str, record: KeyRecord, actor: str) -> None:
        self.backend.put(record)
        if self.journal is not None:
            self.journal(change, record, actor)

    def create(self, account_id: str, *, org_id: str = "", name: str = "", actor: str) -> IssuedKey:
        """Issue a key for an account (and its org).

        Raises:
            InputError: empty account id.
        """
        if not account_id.strip():
            raise InputError("account id must not be empty")
        key_id, raw = new_raw_key()
        record = KeyRecord(
            key_id=key_id,
            key_hash=hash_key(self.secret, raw),
            account_id=account_id.strip(),
            org_id=org_id.strip(),
            name=name,
            created_at=time.time(),
        )
        self._record("key.create", record, actor)
        return IssuedKey(raw, record)

    def _existing(self, key_id: str) -> KeyRecord:
        record = self.backend.get(key_id)
        if record is None:
            raise InputError(f"no key with id {key_id!r}")
        return record

    def revoke(self, key_id: str, *, actor: str) -> KeyRecord:
        """Revoke a key (idempotent).

        Raises:
            InputError: no such key.
        """
        record = self._existing(key_id)
        if record.revoked_at is not None:
            return record
        revoked = msgspec.structs.replace(record, revoked_at=time.time())
        self._record("key.revoke", revoked, actor)
        return revoked

    def rotate(self, key_id: str, *, actor: str) -> IssuedKey:
        """Issue a new key for the same account and org, then revoke the old one.

        Raises:
            InputError: no such key, or it is already revoked.
        """
        old = self._existing(key_id)
        if old.revoked_at is not None:
            raise InputError(f"key {key_id!r} is revoked; create a new one instead")
        issued = self.create(old.account_id, org_id=old.org_id, name=old.name, actor=actor)
        self.revoke(key_id, actor=actor)
        return issued

    def list(self, account_id: str | None = None) -> list[KeyRecord]:
        """Records, optionally of one account, oldest first."""
        recs = [r for r in self.backend.all() if account_id is None or r.account_id == account_id]
        return sorted(recs, key=lambda r: (r.created_at, r.key_id))


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Outcome of checking a presented key: ``ok``, ``missing``, ``invalid``, ``revoked`` or
    ``unavailable`` (the key is not cached and Redis cannot be reached)."""

    status: str
    record: KeyRecord | None = None


class KeyResolver:
    """The gateway's hot path: verify a presented key with a per-replica cache.

    Args:
        fetch: async ``key_id -> JSON or None`` (Redis ``HGET``); raises on backend failure.
        secret: the server's key secret.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[bytes | None]], secret: bytes) -> None:
        self.fetch = fetch
        self.secret = secret
        self._cache: dict[str, KeyRecord | None] = {}

    def invalidate(self) -> None:
        """Forget cached records (the key version changed)."""
        self._cache.clear()

    async def authenticate(self, raw_key: str | None) -> AuthResult:
        """Check a presented key."""
        if not raw_key:
            return AuthResult("missing")
        key_id = parse_key_id(raw_key)
        if key_id is None:
            return AuthResult("invalid")
        if key_id in self._cache:
            record = self._cache[key_id]
        else:
            try:
                raw = await self.fetch(key_id)
            except Exception:  # noqa: BLE001 - any backend failure means "cannot verify"
                return AuthResult("unavailable")
            record = decode_record(raw) if raw else None
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key_id] = record
        if record is None:
            return AuthResult("invalid")
        if not hmac.compare_digest(hash_key(self.secret, raw_key), record.key_hash):
            return AuthResult("invalid")
        if record.revoked_at is not None:
            return AuthResult("revoked", record)
        return AuthResult("ok", record)
