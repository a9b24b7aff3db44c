"""Keyed hashing of identifiers with a community key (HMAC-SHA256).

Identifiers that would expose a customer (account ids, IP addresses, payment fingerprints,
e-mail domains) leave an export only as ``HMAC-SHA256(community_key, kind || 0x00 || value)``.
A plain hash would not do: identifier spaces are small (all IPv4 addresses, all ASNs) and can
be enumerated by anyone; a keyed hash can be recomputed only by members who hold the key.
Values are normalised first (see :func:`normalise`) so that two providers who log the same
identifier differently still produce the same hash.

A key file holds at least 32 random bytes, as hex or raw. The key's id, published in every
export, is an HMAC of a fixed label under the key: it tells a peer which key to use without
revealing the key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from distillguard.errors import ConfigError

#: Environment variable naming the community key file when no option is given.
KEY_FILE_ENV = "DISTILLGUARD_INTEL_COMMUNITY_KEY_FILE"

MIN_KEY_BYTES = 32

#: Identifier kinds that are keyed-hashed (the stored column each comes from).
KINDS: dict[str, str] = {
    "ipv4": "client_ip",
    "ipv6": "client_ip",
    "cidr": "client_ip",
    "asn": "client_asn",
    "user_agent": "client_user_agent",
    "account": "account_id",
    "payment": "account_payment_fingerprint",
    "email_domain": "account_email_domain",
}


def normalise(kind: str, value: str) -> str:
    """Canonical text of an identifier before hashing.

    IPs in their compressed form, CIDRs as their network (``1.2.3.0/24``), ASNs as bare
    numbers (``AS123`` -> ``123``), user agents with runs of spaces collapsed, e-mail domains
    lower-cased; account ids and payment fingerprints are kept exactly (they are opaque).
    """
    v = value.strip()
    if kind in ("ipv4", "ipv6"):
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            return v.lower()
    if kind == "cidr":
        try:
            return str(ipaddress.ip_network(v, strict=False))
        except ValueError:
            return v.lower()
    if kind == "asn":
        return v.upper().removeprefix("AS")
    if kind == "user_agent":
        return " ".join(v.split())
    if kind == "email_domain":
        return v.lower().rstrip(".")
    return v


@dataclass(frozen=True, slots=True)
class CommunityKey:
    """A community key shared by the members of one sharing group."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise ConfigError(
                f"community key is {len(self.secret)} bytes; at least {MIN_KEY_BYTES} are needed"
            )

    @property
    def key_id(self) -> str:
        """A public id of the key (16 hex characters); it does not reveal the key."""
        return hmac.new(self.secret, b"distillguard-key-id-v1", hashlib.sha256).hexdigest()[:16]

    def digest(self, kind: str, value: str) -> str:
        """``HMAC-SHA256(key, kind 0x00 normalised value)`` as 64 hex characters."""
        msg = kind.encode() + b"\x00" + normalise(kind, value).encode("utf-8", "surrogatepass")
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def token_hash(self, token: str) -> int:
        """A 64-bit keyed BLAKE2b MAC of a text token (used by template fingerprints).

        BLAKE2b in keyed mode is a MAC, like HMAC, and several times faster on the short
        shingles that fingerprints hash by the million.
        """
        mac = hashlib.blake2b(
            token.encode("utf-8", "surrogatepass"),
            key=self.secret[:64],
            digest_size=8,
            person=b"dg-shingle-v1",
        )
        return int.from_bytes(mac.digest(), "big")

    def __repr__(self) -> str:  # never print the secret
        return f"CommunityKey(key_id={self.key_id!r})"


def generate_key_file(path: Path) -> CommunityKey:
    """Write a fresh 32-byte key as hex to ``path`` (mode 0600) and return it.

    Raises:
        ConfigError: ``path`` already exists (a key is never overwritten).
    """
    if path.exists():
        raise ConfigError(f"{path}: exists; refusing to overwrite a community key")
    secret = secrets.token_bytes(MIN_KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return CommunityKey(secret)


def load_key(path: str | Path | None = None) -> CommunityKey:
    """Read the community key from ``path`` or ``$DISTILLGUARD_INTEL_COMMUNITY_KEY_FILE``.

    The file holds hex (64+ characters) or at least 32 raw bytes.

    Raises:
        ConfigError: no key file is configured, or it is missing or too short.
    """
    chosen = path if path is not None else os.environ.get(KEY_FILE_ENV)
    if not chosen:
        raise ConfigError(
            "no community key: pass --community-key-file or set "
            f"{KEY_FILE_ENV} (create one with `distillguard intel keygen FILE`)"
        )
    p = Path(chosen)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read community key: {exc.strerror}") from None
    text = raw.strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = raw
    return CommunityKey(secret)
