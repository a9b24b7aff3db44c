"""A progress bar for long ingests (rich, on stderr); a no-op when disabled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    """Files done out of total, and records read so far."""

    def __init__(self, *, enabled: bool, files: Sequence[Path]) -> None:
        self._bar: RichProgress | None = None
        self._records = 0
        if not enabled or not files:
            return
        self._bar = RichProgress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files  {task.fields[records]:,} records  {task.fields[current]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("ingest", total=len(files), records=0, current="")
        self._bar.start()

    def advance(self, path: Path, records: int) -> None:
        """Count ``records`` more read from ``path``."""
        if self._bar is None:
            return
        self._records += records
        self._bar.update(self._task, records=self._records, current=path.name)

    def done(self, path: Path) -> None:
        """Mark ``path`` as finished."""
        if self._bar is None:
            return
        self._bar.update(self._task, advance=1, current=path.name)

    def close(self) -> None:
        """Stop drawing."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
