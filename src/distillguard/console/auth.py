"""Passwords, roles and session tokens.

Passwords are hashed with scrypt (``hashlib.scrypt``, N=2**14, r=8, p=1, 16-byte salt) and
stored as ``scrypt$N$r$p$salt$hash`` so the cost can be raised later without breaking old
hashes. Session tokens are 32 random bytes; only their SHA-256 is stored, so a copy of the
state database does not let anyone log in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from distillguard.errors import InputError

#: role -> rank; a page or action names the least role it needs.
ROLES: dict[str, int] = {"viewer": 0, "analyst": 1, "admin": 2}

MIN_PASSWORD_CHARS = 12
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True, slots=True)
class User:
    """A console user (never carries the password hash out of the state store)."""

    name: str
    role: str
    disabled: bool = False

    def can(self, needed: str) -> bool:
        """True when this user's role is at least ``needed``."""
        return not self.disabled and ROLES[self.role] >= ROLES[needed]


def check_role(role: str) -> str:
    """Return ``role`` if known.

    Raises:
        InputError: an unknown role, naming the known ones.
    """
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; known roles: {', '.join(ROLES)}")
    return role


def check_name(name: str) -> str:
    """Return a valid user name (1-64 of letters, digits, ``._@-``).

    Raises:
        InputError: the name is empty or has other characters.
    """
    ok = 0 < len(name) <= 64 and all(c.isalnum() or c in "._@-" for c in name)
    if not ok:
        raise InputError(f"user name {name!r}: use 1-64 letters, digits or . _ @ -")
    return name


def hash_password(password: str) -> str:
    """Hash ``password`` with a fresh salt.

    Raises:
        InputError: the password is shorter than :data:`MIN_PASSWORD_CHARS`.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    enc = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


#: Verified against when the user does not exist, so that timing does not reveal names.
DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


def new_token() -> tuple[str, str]:
    """A fresh session token and the SHA-256 hex stored for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """SHA-256 hex of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()
