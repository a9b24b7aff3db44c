"""A persistent, secret-free record of planted canaries (append-only JSONL).

Each line records that canary ``serial`` was planted for ``account_id`` under the canary key
``key_id``: ``{"canary_id", "account_id", "key_id", "serial", "planted_at"}``. The secret
name is *not* stored: an audit re-derives every canary from the master secret
(:meth:`CanaryLedger.canaries`), checking that each derived ``canary_id`` matches the
recorded one, so a ledger can be kept, copied and shared without revealing which name is
the planted one, and a ledger read with the wrong master fails loudly.

The ledger also gives :class:`~distillguard.watermark.canary.CanaryBook` the next serial per
account, so a restarted gateway never plants the same canary twice.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distillguard.errors import WatermarkError

if TYPE_CHECKING:
    from distillguard.watermark.canary import Canary, CanaryBook

_FIELDS = ("canary_id", "account_id", "key_id", "serial", "planted_at")


@dataclass(frozen=True)
class LedgerEntry:
    """One planted canary, without its secret.

    Attributes:
        canary_id: public id of the canary (keyed hash).
        account_id: the account it was served to.
        key_id: public id of the canary key that made it.
        serial: the canary's number for this account (re-derives it with the master).
        planted_at: Unix time it was recorded.
    """

    canary_id: str
    account_id: str
    key_id: str
    serial: int
    planted_at: float


class CanaryLedger:
    """Append-only JSONL ledger of planted canaries, keyed by account and key id.

    Args:
        path: the ledger file (created with its parent folder on first write).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries = self._read()

    def _read(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []
        out: list[LedgerEntry] = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WatermarkError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise WatermarkError(f"{where}: expected an object")
            missing = [f for f in _FIELDS if f not in row]
            if missing:
                raise WatermarkError(f"{where}: missing field {missing[0]!r}")
            if not isinstance(row["serial"], int) or row["serial"] < 0:
                raise WatermarkError(f"{where}: field 'serial' must be a non-negative integer")
            out.append(
                LedgerEntry(
                    str(row["canary_id"]),
                    str(row["account_id"]),
                    str(row["key_id"]),
                    int(row["serial"]),
                    float(row["planted_at"]),
                )
            )
        return out

    def entries(
        self, account_id: str | None = None, key_id: str | None = None
    ) -> list[LedgerEntry]:
        """Recorded canaries, optionally only those of one account and/or one key."""
        with self._lock:
            return [
                e
                for e in self._entries
                if (account_id is None or e.account_id == account_id)
                and (key_id is None or e.key_id == key_id)
            ]

    def next_serial(self, account_id: str, key_id: str) -> int:
        """The serial the next canary for ``account_id`` under ``key_id`` should use."""
        serials = [e.serial for e in self.entries(account_id, key_id)]
        return max(serials) + 1 if serials else 0

    def record(self, canary: Canary, key_id: str, serial: int) -> LedgerEntry:
        """Append one planted canary (flushed and fsynced before returning)."""
        entry = LedgerEntry(canary.canary_id, canary.account_id, key_id, serial, time.time())
        line = json.dumps(asdict(entry), sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            self._entries.append(entry)
        return entry

    def canaries(self, book: CanaryBook, account_ids: Sequence[str] | None = None) -> list[Canary]:
        """Re-derive the recorded canaries (with their secrets) for an audit.

        Args:
            book: a book built on the master secret that planted them.
            account_ids: only these accounts (None = all).

        Raises:
            WatermarkError: the ledger was written under another canary key, or a derived
                canary does not match its recorded id (wrong master secret).
        """
        wanted = None if account_ids is None else set(account_ids)
        out: list[Canary] = []
        for e in self.entries():
            if wanted is not None and e.account_id not in wanted:
                continue
            if e.key_id != book.key_id:
                raise WatermarkError(
                    f"{self.path}: canary {e.canary_id} was planted under key {e.key_id}, "
                    f"but the book's key is {book.key_id}: audit with the master that planted it"
                )
            canary = book.make(e.account_id, e.serial)
            if canary.canary_id != e.canary_id:
                raise WatermarkError(
                    f"{self.path}: canary {e.canary_id} (account {e.account_id!r}, serial "
                    f"{e.serial}) does not re-derive from this master secret"
                )
            out.append(canary)
        return out
