"""The console's own state: users, sessions and the append-only audit log (SQLite).

SQLite rather than DuckDB because this is many small transactional writes from several
processes (``distillguard console user add`` while the console runs). The audit log refuses
UPDATE and DELETE (triggers) and chains every entry to the previous one with SHA-256, so
an edit made behind the console's back is detected by :meth:`ConsoleState.verify_audit`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.console.auth import (
    DUMMY_HASH,
    User,
    check_name,
    check_role,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from distillguard.errors import InputError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,
    created_at REAL NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE IF NOT EXISTS campaign_status (
    scan_id TEXT NOT NULL, campaign_id TEXT NOT NULL, status TEXT NOT NULL,
    updated_by TEXT NOT NULL, updated_at REAL NOT NULL, note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, campaign_id));
CREATE TABLE IF NOT EXISTS dispositions (
    disposition_id TEXT NOT NULL, scan_id TEXT NOT NULL, campaign_id TEXT NOT NULL,
    account_id TEXT NOT NULL, label TEXT NOT NULL, actor TEXT NOT NULL, at REAL NOT NULL,
    reason TEXT NOT NULL, withdrawn_at REAL, PRIMARY KEY (disposition_id, account_id));
CREATE INDEX IF NOT EXISTS dispositions_account ON dispositions (account_id);
CREATE INDEX IF NOT EXISTS dispositions_campaign ON dispositions (scan_id, campaign_id);
CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY, scan_id TEXT NOT NULL, target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL, kind TEXT NOT NULL, params TEXT NOT NULL, reason TEXT NOT NULL,
    actor TEXT NOT NULL, at REAL NOT NULL, subjects INTEGER NOT NULL,
    undone_at REAL, undone_by TEXT);
CREATE INDEX IF NOT EXISTS actions_target ON actions (target_kind, target_id);
CREATE TABLE IF NOT EXISTS action_items (
    action_id TEXT NOT NULL, subject TEXT NOT NULL, decision_id TEXT,
    previous TEXT);
CREATE INDEX IF NOT EXISTS action_items_action ON action_items (action_id);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY, subject_kind TEXT, subject_id TEXT, action TEXT,
    params TEXT, reason TEXT, created_by TEXT, created_at REAL, expires_at REAL,
    revoked_at REAL);
CREATE INDEX IF NOT EXISTS decisions_subject ON decisions (subject_kind, subject_id);
"""

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log."""

    seq: int
    ts: float
    actor: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """Result of :meth:`ConsoleState.verify_audit`."""

    entries: int
    ok: bool
    first_bad_seq: int | None


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in session."""

    user: User
    csrf: str
    expires_at: float


def _entry_hash(prev: str, ts: float, actor: str, action: str, subject: str, detail: str) -> str:
    payload = json.dumps([prev, repr(ts), actor, action, subject, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class ConsoleState:
    """Users, sessions and the audit log in one SQLite file (thread-safe).

    Args:
        path: the SQLite file (created with its parent folder), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10
            )
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the console state: {exc}") from exc
        self.lock = threading.RLock()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (serialised across threads and processes)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows."""
        with self.lock:
            return list(self.db.execute(sql, params).fetchall())

    # -- audit ---------------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, subject: str, detail: Any = "", *, ts: float | None = None
    ) -> None:
        """Append one entry (who, what, on what, details as JSON) to the audit log."""
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
        with self.tx() as db:
            self._audit_in(db, actor, action, subject, text, ts)

    def _audit_in(
        self,
        db: sqlite3.Connection,
        actor: str,
        action: str,
        subject: str,
        detail: str,
        ts: float | None = None,
    ) -> None:
        row = db.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        prev = row[0] if row else GENESIS
        t = time.time() if ts is None else ts
        h = _entry_hash(prev, t, actor, action, subject, detail)
        db.execute(
            "INSERT INTO audit_log (ts, actor, action, subject, detail, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (t, actor, action, subject, detail, prev, h),
        )

    def audit_entries(
        self, *, subject_prefix: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEntry], int]:
        """Entries newest first (optionally only subjects starting with a prefix), and total."""
        where, params = "", []
        if subject_prefix:
            where, params = "WHERE subject LIKE ? ESCAPE '\\'", [_like_prefix(subject_prefix)]
        total = int(self.query(f"SELECT count(*) FROM audit_log {where}", params)[0][0])  # noqa: S608
        rows = self.query(
            f"SELECT seq, ts, actor, action, subject, detail FROM audit_log {where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [AuditEntry(*r) for r in rows], total

    def verify_audit(self) -> AuditCheck:
        """Recompute the hash chain; report the first entry that does not match."""
        prev = GENESIS
        n = 0
        for seq, ts, actor, action, subject, detail, p, h in self.query(
            "SELECT seq, ts, actor, action, subject, detail, prev_hash, hash FROM audit_log "
            "ORDER BY seq"
        ):
            n += 1
            if p != prev or _entry_hash(prev, ts, actor, action, subject, detail) != h:
                return AuditCheck(n, False, int(seq))
            prev = h
        return AuditCheck(n, True, None)

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, *, actor: str) -> User:
        """Create a user.

        Raises:
            InputError: bad name, role or password, or the name is taken.
        """
        check_name(name)
        check_role(role)
        pw = hash_password(password)
        with self.tx() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InputError(f"user {name!r} already exists")
            db.execute(
                "INSERT INTO users (name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, pw, time.time()),
            )
            self._audit_in(db, actor, "user.add", f"user:{name}", json.dumps({"role": role}))
        return User(name, role)

    def update_user(
        self,
        name: str,
        *,
        actor: str,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user's role, password or disabled flag; ends their sessions.

        Raises:
            InputError: unknown user, bad role or password.
        """
        if role is not None:
            check_role(role)
        pw = hash_password(password) if password is not None else None
        with self.tx() as db:
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InputError(f"no user {name!r}")
            changes: dict[str, Any] = {}
            if role is not None:
                db.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
                changes["role"] = role
            if pw is not None:
                db.execute("UPDATE users SET pw_hash = ? WHERE name = ?", (pw, name))
                changes["password"] = "changed"  # noqa: S105 - audit detail
            if disabled is not None:
                db.execute("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
                changes["disabled"] = disabled
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
            self._audit_in(db, actor, "user.update", f"user:{name}", json.dumps(changes))
        user = self.get_user(name)
        assert user is not None
        return user

    def get_user(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        rows = self.query("SELECT name, role, disabled FROM users WHERE name = ?", (name,))
        return User(rows[0][0], rows[0][1], bool(rows[0][2])) if rows else None

    def users(self) -> list[User]:
        """All users, by name."""
        return [
            User(n, r, bool(d))
            for n, r, d in self.query("SELECT name, role, disabled FROM users ORDER BY name")
        ]

    def count_users(self) -> int:
        """Number of enabled users."""
        return int(self.query("SELECT count(*) FROM users WHERE disabled = 0")[0][0])

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right and the user is enabled, else None."""
        rows = self.query("SELECT role, pw_hash, disabled FROM users WHERE name = ?", (name,))
        stored = rows[0][1] if rows else DUMMY_HASH
        ok = verify_password(password, stored)
        if not rows or not ok or rows[0][2]:
            return None
        return User(name, rows[0][0])

    # -- sessions ------------------------------------------------------------------------------

    def create_session(self, user: User, ttl_s: float) -> tuple[str, Session]:
        """Start a session; returns the cookie token and the session."""
        token, th = new_token()
        csrf = new_token()[0]
        now = time.time()
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (th, user.name, csrf, now, now + ttl_s),
            )
        return token, Session(user, csrf, now + ttl_s)

    def session(self, token: str) -> Session | None:
        """The live session of a cookie token (its user still enabled), or None."""
        rows = self.query(
            "SELECT u.name, u.role, u.disabled, s.csrf, s.expires_at FROM sessions s "
            "JOIN users u ON u.name = s.user WHERE s.token_hash = ?",
            (token_hash(token),),
        )
        if not rows:
            return None
        name, role, disabled, csrf, exp = rows[0]
        if disabled or exp < time.time():
            return None
        return Session(User(name, role), csrf, exp)

    def end_session(self, token: str) -> None:
        """Forget a session (logout)."""
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
