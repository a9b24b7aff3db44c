"""The quarantine file: one JSON object per rejected record, appended, never blocking a run.

Each line is ``{"run_id", "source", "line", "field", "reason", "raw"}``; ``raw`` is the record
as read, with invalid UTF-8 replaced and truncated to
:data:`~distillguard.ingest.base.RAW_PREVIEW_CHARS` characters.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import msgspec

from distillguard.errors import InputError
from distillguard.ingest.base import Rejected


class QuarantineRecord(msgspec.Struct, frozen=True):
    """One line of the quarantine file."""

    run_id: str
    source: str
    line: int
    field: str
    reason: str
    raw: str


class QuarantineWriter:
    """Appends rejected records to ``path``; the file is created only if something is rejected.

    ``path=None`` counts rejections without writing them anywhere.
    """

    def __init__(self, path: Path | None, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.count = 0
        self._fh: IO[bytes] | None = None
        self._opened = False
        self._enc = msgspec.json.Encoder()

    def write(self, rejected: Rejected) -> None:
        """Record one rejection."""
        self.count += 1
        if self.path is None:
            return
        if self._fh is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("ab")
                self._opened = True
            except OSError as exc:
                raise InputError(f"{self.path}: cannot open quarantine file: {exc}") from None
        rec = QuarantineRecord(
            run_id=self.run_id,
            source=rejected.source,
            line=rejected.line,
            field=rejected.field,
            reason=rejected.reason,
            raw=rejected.raw,
        )
        self._fh.write(self._enc.encode(rec) + b"\n")

    @property
    def written(self) -> bool:
        """True when the file was created (something was quarantined to a path)."""
        return self._opened

    def close(self) -> None:
        """Flush and close the file, if it was opened."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_quarantine(path: Path) -> list[QuarantineRecord]:
    """Read a quarantine file back (for tests and for ``distillguard`` tooling)."""
    dec = msgspec.json.Decoder(QuarantineRecord)
    with path.open("rb") as fh:
        return [dec.decode(line) for line in fh if line.strip()]
