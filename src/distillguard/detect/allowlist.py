"""Allow-lists: organisations or accounts that are never flagged (licensed distillation,
vetted researchers), each with a reason and an optional expiry.

File format (YAML)::

    entries:
      - org: org-acme-research
        reason: Licensed distillation, contract 2025-117
        expires: 2026-06-30
      - account: acct-4411
        reason: Vetted safety researcher (ticket T-88)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from distillguard.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allow-list entry: exactly one of ``org`` or ``account``."""

    reason: str
    org: str | None = None
    account: str | None = None
    expires: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True unless the entry has expired at ``now``."""
        return self.expires is None or now < self.expires


@dataclass(frozen=True, slots=True)
class AllowList:
    """A loaded allow-list."""

    entries: tuple[AllowEntry, ...] = ()

    def match(self, account_id: str, org_id: str | None, now: datetime) -> AllowEntry | None:
        """The active entry covering this account (account entries win over org entries)."""
        org_hit: AllowEntry | None = None
        for e in self.entries:
            if not e.active(now):
                continue
            if e.account is not None and e.account == account_id:
                return e
            if e.org is not None and org_id is not None and e.org == org_id and org_hit is None:
                org_hit = e
        return org_hit


def _when(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expires {value!r} is not a date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load_allowlist(path: Path | None) -> AllowList:
    """Read an allow-list file; ``None`` gives an empty list.

    Raises:
        ConfigError: unreadable file or a bad entry, naming the file and entry number.
    """
    if path is None:
        return AllowList()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read allow-list: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    raw = data.get("entries") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list under 'entries'")
    entries: list[AllowEntry] = []
    for i, item in enumerate(raw, 1):
        where = f"{path}: entry {i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = sorted(set(item) - {"org", "account", "reason", "expires"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        org, account = item.get("org"), item.get("account")
        if (org is None) == (account is None):
            raise ConfigError(f"{where}: give exactly one of 'org' or 'account'")
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise ConfigError(f"{where}: a reason is required")
        entries.append(
            AllowEntry(
                reason=reason,
                org=str(org) if org is not None else None,
                account=str(account) if account is not None else None,
                expires=_when(item.get("expires"), where),
            )
        )
    return AllowList(tuple(entries))
