"""TAXII server configuration, users and permissions.

Credentials are stored hashed only: passwords as PBKDF2-HMAC-SHA256
(``pbkdf2_sha256$ITERATIONS$SALT_HEX$HASH_HEX``), bearer tokens as SHA-256 hex (tokens are
long random strings, so a fast hash is enough). Each collection lists who may read and who
may write; the name ``anonymous`` in ``read`` makes a collection public. Writes always need
an authenticated user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from distillguard.errors import ConfigError

ANONYMOUS = "anonymous"
DEFAULT_ITERATIONS = 310_000


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A PBKDF2-HMAC-SHA256 hash of ``password`` for the users file."""
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${dk.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` hash (constant time)."""
    try:
        algo, iters, salt, digest = stored.split("$")
        if algo != "pbkdf2_sha256":
            return False
        dk = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iters))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk.hex(), digest)


def hash_token(token: str) -> str:
    """SHA-256 hex of a bearer token, for the users file."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Collection:
    """One TAXII collection and who may read and write it."""

    id: str
    title: str
    description: str = ""
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def can_read(self, user: str | None) -> bool:
        """Whether ``user`` (None = anonymous) may read."""
        return ANONYMOUS in self.read or (
            user is not None and (user in self.read or "*" in self.read)
        )

    def can_write(self, user: str | None) -> bool:
        """Whether ``user`` may write (never anonymous)."""
        return user is not None and (user in self.write or "*" in self.write)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The TAXII server's configuration (a YAML file; see docs/intel.md)."""

    title: str = "distillguard TAXII"
    description: str = ""
    api_root: str = "intel"
    collections: tuple[Collection, ...] = ()
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    max_content_length: int = 10_000_000
    max_objects: int = 10_000
    max_depth: int = 32
    page_size: int = 100
    max_page_size: int = 1000

    def collection(self, cid: str) -> Collection | None:
        """The collection with id ``cid``."""
        return next((c for c in self.collections if c.id == cid), None)

    def authenticate(self, header: str | None) -> str | None:
        """The user named by an ``Authorization`` header, or None (anonymous or invalid)."""
        if not header:
            return None
        scheme, _, cred = header.partition(" ")
        if scheme.lower() == "bearer":
            digest = hash_token(cred.strip())
            for user, stored in self.tokens.items():
                if hmac.compare_digest(digest, stored):
                    return user
            return None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(cred.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            hashed = self.passwords.get(user)
            return user if hashed is not None and verify_password(password, hashed) else None
        return None


def _collection(raw: Any, where: str) -> Collection:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("title"):
        raise ConfigError(f"{where}: a collection needs an id and a title")
    return Collection(
        id=str(raw["id"]),
        title=str(raw["title"]),
        description=str(raw.get("description", "")),
        read=tuple(str(x) for x in raw.get("read", ())),
        write=tuple(str(x) for x in raw.get("write", ())),
    )


def load_server_config(path: str | Path) -> ServerConfig:
    """Read the TAXII server's YAML file.

    Raises:
        ConfigError: missing file, bad YAML or a bad entry (naming it).
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text("utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read TAXII configuration: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping")
    users = raw.get("users", {}) or {}
    passwords: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for name, entry in users.items():
        if name == ANONYMOUS or not isinstance(entry, dict):
            raise ConfigError(f"{p}: users.{name}: expected password_hash and/or token_sha256")
        if entry.get("password_hash"):
            passwords[str(name)] = str(entry["password_hash"])
        if entry.get("token_sha256"):
            tokens[str(name)] = str(entry["token_sha256"]).lower()
    cols = tuple(
        _collection(c, f"{p}: collections[{i}]") for i, c in enumerate(raw.get("collections", []))
    )
    known = {
        "title",
        "description",
        "api_root",
        "collections",
        "users",
        "max_content_length",
        "max_objects",
        "max_depth",
        "page_size",
        "max_page_size",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {', '.join(unknown)}")
    ints = {k: int(raw[k]) for k in known & set(raw) if k.startswith(("max_", "page_"))}
    return ServerConfig(
        title=str(raw.get("title", "distillguard TAXII")),
        description=str(raw.get("description", "")),
        api_root=str(raw.get("api_root", "intel")).strip("/"),
        collections=cols,
        passwords=passwords,
        tokens=tokens,
        **ints,
    )
