"""The spool loader: the single process that writes the store.

DuckDB allows one writing process, so every replica spools to its own directory and one
loader (``distillguard sink``, or the one ``distillguard serve`` starts) loads sealed
segments into the store, oldest first per replica, then deletes them. When the store is down
or locked the loader stops at the first failing segment and retries later, so nothing is
skipped and order is kept; loads are idempotent on ``event_id`` so a crash between writing
and deleting a segment only causes a harmless replay. A replica that died leaves its
directory unlocked: the loader seals its open segment (a torn last line goes to quarantine)
and removes the directory once empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from distillguard.errors import RecordError, StoreError
from distillguard.events import decode_event, events_to_arrow
from distillguard.events.model import Event
from distillguard.gateway.control import CONTROL_PREFIX, apply_control, decode_control
from distillguard.gateway.spool import OPEN, seal, sealed_segments, try_lock, unlock

log = logging.getLogger("distillguard.gateway")

_qenc = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one pass of the loader did."""

    segments: int
    events: int
    inserted: int
    duplicates: int
    controls: int
    quarantined: int
    error: str = ""


class SpoolLoader:
    """Loads sealed spool segments into a store.

    Args:
        root: the spool directory.
        open_store: returns a store (called again after a store failure).
        keep_text: keep prompt/response text in the store.
    """

    def __init__(
        self, root: str | Path, open_store: Callable[[], Any], *, keep_text: bool = False
    ) -> None:
        self.root = Path(root)
        self.open_store = open_store
        self.keep_text = keep_text
        self._store: Any = None
        self.quarantine = self.root / "quarantine.jsonl"

    def _quarantine(self, segment: Path, line: int, reason: str, raw: bytes) -> None:
        rec = {
            "segment": segment.name,
            "line": line,
            "reason": reason,
            "raw": raw[:2000].decode("utf-8", "replace"),
        }
        with self.quarantine.open("ab") as fh:
            fh.write(_qenc.encode(rec) + b"\n")

    def _load_segment(self, store: Any, segment: Path) -> tuple[int, int, int, int, int]:
        data = segment.read_bytes()
        lines = data.split(b"\n")
        torn = lines.pop() if lines else b""
        events: list[Event] = []
        controls = []
        bad = 0
        for i, raw in enumerate(lines, 1):
            if not raw:
                continue
            try:
                if raw.startswith(CONTROL_PREFIX):
                    controls.append(decode_control(raw))
                else:
                    events.append(decode_event(raw))
            except (RecordError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._quarantine(segment, i, str(exc), raw)
                bad += 1
        if torn:
            self._quarantine(segment, len(lines) + 1, "torn last line (process killed)", torn)
            bad += 1
        inserted = dup = 0
        if events:
            source = f"gateway:{segment.parent.name}"
            res = store.write(events_to_arrow(events, keep_text=self.keep_text, source=source))
            inserted, dup = res.inserted, res.duplicates
        for rec in controls:
            try:
                apply_control(store, rec)
            except ValueError as exc:
                self._quarantine(segment, 0, str(exc), b"")
                bad += 1
        return len(events), inserted, dup, len(controls), bad

    def run_once(self) -> LoadResult:
        """Load every sealed segment now; stop at the first store failure."""
        segs = n_events = ins = dups = ctl = bad = 0
        if not self.root.is_dir():
            return LoadResult(0, 0, 0, 0, 0, 0)
        for directory in sorted(p for p in self.root.iterdir() if p.is_dir()):
            lock = try_lock(directory)
            try:
                if lock is not None:  # its replica is gone: finish its open segment
                    for leftover in directory.glob("seg-*" + OPEN):
                        seal(leftover)
                for segment in sealed_segments(directory):
                    try:
                        if self._store is None:
                            self._store = self.open_store()
                        e, i, d, c, b = self._load_segment(self._store, segment)
                    except StoreError as exc:
                        self._drop_store()
                        return LoadResult(segs, n_events, ins, dups, ctl, bad, str(exc))
                    segment.unlink()
                    segs, n_events, ins, dups, ctl, bad = (
                        segs + 1,
                        n_events + e,
                        ins + i,
                        dups + d,
                        ctl + c,
                        bad + b,
                    )
                if lock is not None and not any(directory.glob("seg-*")):
                    (directory / "LOCK").unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        directory.rmdir()
            finally:
                if lock is not None:
                    unlock(lock)
        return LoadResult(segs, n_events, ins, dups, ctl, bad)

    def _drop_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # noqa: BLE001 - it is already failing
                log.debug("sink: closing a failed store raised", exc_info=True)
            self._store = None

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Load until ``stop`` is set, then do a last pass and close the store."""
        failing = False
        while True:
            res = self.run_once()
            if res.error and not failing:
                log.warning("sink: store unavailable (%s); events keep spooling", res.error)
            elif failing and not res.error:
                log.warning("sink: store is back; replaying spooled segments")
            failing = bool(res.error)
            if stop.is_set():
                break
            stop.wait(interval * (4 if failing else 1))
        self._drop_store()

    def close(self) -> None:
        """Close the store."""
        self._drop_store()


def spool_backlog(root: str | Path) -> int:
    """Segments waiting under ``root`` (sealed or open), for the spool-depth metric."""
    p = Path(root)
    if not p.is_dir():
        return 0
    return sum(1 for d in p.iterdir() if d.is_dir() for _ in d.glob("seg-*"))


def lower_priority(nice: int) -> None:
    """Add ``nice`` to this process's niceness (``[gateway] sink_nice``); 0 or less: no-op.

    Threads started later (DuckDB's) inherit it. Where that is not permitted the loader
    keeps its priority and says so.
    """
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except OSError as exc:
        log.warning("sink: cannot lower the loader's priority (%s)", exc)


def run_sink_process(
    root: str, db: str, keep_text: bool, interval: float, stop_file: str, nice: int = 0
) -> None:
    """Entry point of the loader process started by ``distillguard serve``: load until the
    file ``stop_file`` exists or the parent dies.

    ``nice`` is added to the process's niceness first (``[gateway] sink_nice``), so the
    loader's bursts yield the CPU to the gateway's workers; threads DuckDB starts later
    inherit it.
    """
    from distillguard.store import DuckDBStore

    lower_priority(nice)

    loader = SpoolLoader(root, lambda: DuckDBStore(db), keep_text=keep_text)
    stop = threading.Event()
    parent = os.getppid()

    def watch() -> None:
        while not stop.is_set():
            if os.path.exists(stop_file) or os.getppid() != parent:
                stop.set()
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    loader.run(stop, interval)
