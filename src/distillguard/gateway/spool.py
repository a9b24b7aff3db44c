"""The on-disk event spool: append, group-commit with fsync, seal segments for the loader.

Layout: ``<spool_dir>/<replica_id>/seg-<seq>.open`` is being written; ``seg-<seq>.jsonl`` is
sealed and waits for the loader (:mod:`distillguard.gateway.sink`), which deletes it once the
store has it. Each replica owns its sub-directory through an exclusive ``flock`` on ``LOCK``,
so the loader can tell a live replica from a crashed one and finish a crashed one's segment.

A background thread commits every ``commit_window_s``: one write and one ``fsync`` for every
line appended since the last commit. ``append`` never blocks on the disk, so the request path
pays nothing for durability; a hard kill can lose at most the lines of one window.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from distillguard.errors import GatewayError

log = logging.getLogger("distillguard.gateway")

SEALED = ".jsonl"
OPEN = ".open"
#: lines held in memory while the disk fails, before the oldest are dropped (and counted)
MAX_BUFFERED = 1_000_000


def segment_seq(path: Path) -> int:
    """The sequence number in ``seg-<seq>.*``."""
    return int(path.name.split("-", 1)[1].split(".", 1)[0])


def sealed_segments(directory: Path) -> list[Path]:
    """Sealed segments of one replica directory, oldest first."""
    return sorted(directory.glob("seg-*" + SEALED), key=segment_seq)


def seal(path: Path) -> Path:
    """Rename an open segment to its sealed name and make the rename durable."""
    target = path.with_suffix(SEALED)
    os.replace(path, target)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


def try_lock(directory: Path) -> int | None:
    """Take the exclusive lock of a replica directory; the fd, or None if someone holds it."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    """Release a lock taken by :func:`try_lock`."""
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


class SpoolWriter:
    """Appends lines to this replica's spool with group commit.

    Args:
        root: the spool directory shared by the replicas of one host.
        replica_id: this replica's sub-directory.
        commit_window_s: the most time a line waits before it is fsynced.
        segment_max_bytes: seal the open segment beyond this size.
        segment_max_age_s: seal the open segment after this long.

    Raises:
        GatewayError: the directory cannot be created or another live process owns it.
    """

    def __init__(
        self,
        root: str | Path,
        replica_id: str,
        *,
        commit_window_s: float = 0.05,
        segment_max_bytes: int = 8 * 1024 * 1024,
        segment_max_age_s: float = 1.0,
    ) -> None:
        self.dir = Path(root) / replica_id
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GatewayError(f"spool: cannot create {self.dir}: {exc}") from exc
        lock = try_lock(self.dir)
        if lock is None:
            raise GatewayError(f"spool: {self.dir} is owned by another live process")
        self._lock_fd = lock
        for leftover in sorted(self.dir.glob("seg-*" + OPEN), key=segment_seq):
            seal(leftover)
        existing = [segment_seq(p) for p in self.dir.glob("seg-*")]
        self._seq = max(existing, default=0)
        self.window = commit_window_s
        self.max_bytes = segment_max_bytes
        self.max_age = segment_max_age_s
        self._buf: list[bytes] = []
        self._cond = threading.Condition()
        self._fd: int | None = None
        self._size = 0
        self._opened = 0.0
        self._stop = False
        self._flush_wanted = False
        self.appended = 0
        self.committed = 0
        self.lost = 0
        self.sealed = 0
        self.healthy = True
        self._thread = threading.Thread(target=self._run, name="dg-spool", daemon=True)
        self._thread.start()

    def append(self, line: bytes) -> None:
        """Queue one line (no newline) for the next group commit; never blocks on the disk."""
        with self._cond:
            self._buf.append(line)
            self.appended += 1
            if len(self._buf) > MAX_BUFFERED:
                del self._buf[0]
                self.lost += 1

    def pending(self) -> int:
        """Lines appended but not yet fsynced."""
        return self.appended - self.committed - self.lost

    def flush(self, timeout: float = 10.0) -> bool:
        """Commit everything appended so far now; True when it is on disk."""
        with self._cond:
            target = self.appended
            self._flush_wanted = True
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while self.committed + self.lost < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Flush, seal the open segment, stop the thread and release the directory."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        if self._fd is not None:
            self._seal_current()
        if self._lock_fd >= 0:
            unlock(self._lock_fd)
            self._lock_fd = -1

    def _open_segment(self) -> None:
        self._seq += 1
        path = self.dir / f"seg-{self._seq:012d}{OPEN}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = 0
        self._opened = time.monotonic()

    def _seal_current(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        seal(self.dir / f"seg-{self._seq:012d}{OPEN}")
        self.sealed += 1

    def _commit(self, batch: list[bytes]) -> None:
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        data = b"\n".join(batch) + b"\n"
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)
        self._size += len(data)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._stop and not self._flush_wanted:
                    self._cond.wait(self.window)
                batch, self._buf = self._buf, []
                self._flush_wanted = False
                stopping = self._stop
            if batch:
                try:
                    self._commit(batch)
                except OSError as exc:
                    if self.healthy:
                        log.error("spool: cannot write %s: %s; retrying", self.dir, exc)
                    self.healthy = False
                    with self._cond:
                        self._buf[:0] = batch
                    time.sleep(self.window)
                    continue
                with self._cond:
                    self.committed += len(batch)
                    self.healthy = True
                    self._cond.notify_all()
            if self._fd is not None and (
                self._size >= self.max_bytes or time.monotonic() - self._opened >= self.max_age
            ):
                try:
                    self._seal_current()
                except OSError as exc:
                    log.error("spool: cannot seal a segment in %s: %s", self.dir, exc)
            if stopping:
                with self._cond:
                    if not self._buf:
                        return
