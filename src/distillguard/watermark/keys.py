"""Watermark keys: one master secret, many derived keys (HKDF-SHA256, RFC 5869).

Every key is derived from the provider's master secret and a *scope*: an account cohort
(``cohort:enterprise-eu``) or a single suspicious account (``account:acct_123``). Because each
scope has its own key, a positive detection also says which scope's outputs were harvested.

Reports carry only :attr:`WatermarkKey.key_id` (a one-way fingerprint of the key), never the
key material; ``repr()`` of a key hides the material too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillguard.errors import WatermarkError

#: HKDF salt: fixed per protocol version so that the same master gives the same keys forever.
HKDF_SALT = b"distillguard-watermark-v1"
MIN_SECRET_BYTES = 16


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 extract-and-expand (RFC 5869).

    Args:
        ikm: input keying material (the master secret).
        salt: extract salt.
        info: context string binding the output to its use.
        length: output bytes, at most 255 * 32.

    Returns:
        ``length`` pseudorandom bytes.
    """
    if length > 255 * 32:
        raise WatermarkError(f"HKDF output length {length} exceeds 8160 bytes")
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def normalise_scope(scope: str) -> str:
    """Return ``kind:name`` for a scope; a bare name is taken as a cohort."""
    scope = scope.strip()
    if not scope:
        raise WatermarkError("empty key scope: give a cohort name or account:<id>")
    if ":" not in scope:
        return f"cohort:{scope}"
    kind, _, name = scope.partition(":")
    if kind not in ("cohort", "account") or not name:
        raise WatermarkError(f"bad key scope {scope!r}: expected cohort:<name> or account:<id>")
    return scope


@dataclass(frozen=True)
class WatermarkKey:
    """A derived key for one scheme and one scope.

    Attributes:
        key_id: public fingerprint of the key (safe to log and to put in reports).
        scope: ``cohort:<name>`` or ``account:<id>``.
        scheme: the scheme the key is for (``kgw``, ``unigram``, ``synthid``, ``lexical``...).
        tokenizer_fingerprint: fingerprint of the tokenizer the key is used with, or "" for
            text-level schemes; detectors refuse a different tokenizer.
        material: 32 secret bytes (hidden from ``repr``).
    """

    key_id: str
    scope: str
    scheme: str
    tokenizer_fingerprint: str = ""
    material: bytes = field(default=b"", repr=False)

    def word(self, index: int = 0) -> int:
        """Return the ``index``-th 64-bit word of the key material (0..3)."""
        if not 0 <= index < len(self.material) // 8:
            raise WatermarkError(f"key {self.key_id} has no 64-bit word {index}")
        return int.from_bytes(self.material[8 * index : 8 * index + 8], "little")

    def with_tokenizer(self, fingerprint: str) -> WatermarkKey:
        """Return this key bound to a tokenizer fingerprint."""
        return WatermarkKey(self.key_id, self.scope, self.scheme, fingerprint, self.material)

    def metadata(self) -> dict[str, str]:
        """Public metadata (no key material): what goes in reports and key listings."""
        return {
            "key_id": self.key_id,
            "scope": self.scope,
            "scheme": self.scheme,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
        }


class MasterSecret:
    """The provider's master secret, from which every watermark key is derived.

    Args:
        secret: at least 16 random bytes (32 recommended; :meth:`generate` makes 32).
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise WatermarkError(
                f"master secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are required"
            )
        self._secret = secret

    def __repr__(self) -> str:
        return f"MasterSecret(id={self.secret_id})"

    @property
    def secret_id(self) -> str:
        """Public fingerprint of the master secret."""
        return "ms_" + hmac.new(self._secret, b"id", hashlib.sha256).hexdigest()[:12]

    @classmethod
    def generate(cls) -> MasterSecret:
        """Return a fresh 32-byte master secret from the OS random source."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str, *, where: str = "master secret") -> MasterSecret:
        """Parse a hex-encoded secret (as written by :meth:`save`)."""
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError:
            raise WatermarkError(f"{where}: not a hex string") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MasterSecret:
        """Read a master secret file (hex on one line)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="ascii")
        except FileNotFoundError:
            raise WatermarkError(f"{p}: master secret file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise WatermarkError(f"{p}: cannot read master secret: {exc}") from None
        return cls.from_hex(text, where=str(p))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the secret as hex, readable by the owner only; refuses to overwrite."""
        p = Path(path)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            raise WatermarkError(f"{p}: already exists; refusing to overwrite a secret") from None
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(self._secret.hex() + "\n")

    def derive(self, scope: str, scheme: str, *, tokenizer_fingerprint: str = "") -> WatermarkKey:
        """Derive the key of ``scheme`` for ``scope`` (deterministic).

        Args:
            scope: ``cohort:<name>``, ``account:<id>`` or a bare cohort name.
            scheme: scheme name; keys of different schemes are independent.
            tokenizer_fingerprint: bind the key to a tokenizer (token-level schemes).
        """
        scope = normalise_scope(scope)
        info = f"{scheme}|{scope}".encode()
        material = hkdf_sha256(self._secret, salt=HKDF_SALT, info=info, length=32)
        key_id = "wk_" + hashlib.sha256(b"distillguard-key-id|" + material).hexdigest()[:16]
        return WatermarkKey(key_id, scope, scheme, tokenizer_fingerprint, material)


@dataclass(frozen=True)
class KeyRing:
    """The keys of one scheme for many scopes, for detection across all of them.

    Attributes:
        keys: the keys, one per scope, in a fixed order.
    """

    keys: tuple[WatermarkKey, ...]

    @classmethod
    def derive(
        cls,
        master: MasterSecret,
        scopes: Iterable[str],
        scheme: str,
        *,
        tokenizer_fingerprint: str = "",
    ) -> KeyRing:
        """Derive one key per scope (duplicates removed, order kept)."""
        seen: dict[str, WatermarkKey] = {}
        for scope in scopes:
            s = normalise_scope(scope)
            if s not in seen:
                seen[s] = master.derive(s, scheme, tokenizer_fingerprint=tokenizer_fingerprint)
        if not seen:
            raise WatermarkError("a key ring needs at least one scope")
        return cls(tuple(seen.values()))

    def by_scope(self) -> Mapping[str, WatermarkKey]:
        """Return scope -> key."""
        return {k.scope: k for k in self.keys}

    def listing(self) -> str:
        """JSON listing of public metadata (no secrets)."""
        rows: list[dict[str, Any]] = [k.metadata() for k in self.keys]
        return json.dumps(rows, indent=2)
