"""Decoding large JSONL files in worker processes, in order, with bounded memory.

The main process splits the (decompressed) stream into line batches and writes results to
the store; workers validate and flatten. At most ``2 * workers`` batches are in flight, so
memory does not grow with file size. Workers are started with ``spawn`` (never ``fork``: the
main process holds DuckDB's threads).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from distillguard.ingest.base import ReadOptions
from distillguard.ingest.fastpath import flatten_block
from distillguard.ingest.jsonl import RejectTuple, flatten_lines

#: Files smaller than this (on disk) are decoded in-process: starting workers costs ~1 s.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
MAX_AUTO_WORKERS = 8

Result = tuple[pa.Table, list[RejectTuple], int]
_T = TypeVar("_T")
_END: Any = object()


def worker_count(path: Path, options: ReadOptions) -> int:
    """Workers for ``path``: the ``workers`` option (default 1; 0 = one per CPU if large).

    The default is 1 because on a small or shared machine the workers compete with DuckDB
    and with each other (see docs/benchmarks.md); pass ``workers=0`` or N on many-core hosts.
    Worker processes are spawned, so a script calling ``ingest_paths`` with workers must
    guard its entry point with ``if __name__ == "__main__":``.
    """
    asked = int(options.option("workers", 1))
    if asked:
        return max(1, asked)
    try:
        size = path.stat().st_size
    except OSError:
        return 1
    if size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))


def parallel_flatten(
    batches: Iterator[tuple[int, list[bytes]]],
    workers: int,
    source: str,
    limit: int,
    keep_text: bool,
    *,
    fast: bool = False,
) -> Iterator[Result]:
    """Yield :func:`flatten_lines` results for ``batches``, in order, using worker processes.

    With ``fast``, workers use the block fast path (:func:`flatten_block`) instead.
    """
    flatten = flatten_block if fast else flatten_lines
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for first, lines in batches:
                pending.append(pool.submit(flatten, first, lines, source, limit, keep_text))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


def pipelined(items: Iterator[_T], ahead: int = 1) -> Generator[_T, None, None]:
    """Yield ``items``, computing up to ``ahead`` of the next ones in a background thread.

    The JSONL reader uses it so that block N is written to the store while the next blocks
    are read and validated in Python. DuckDB releases the GIL, so the stages overlap on two
    cores. With ``ahead`` > 1 the producer can run ahead of a consumer that is briefly
    slower (and the consumer need not wait when the producer is): two stages of about the
    same mean time but varying item by item then stay busy (docs/benchmarks.md, "Ingest").
    Memory stays bounded by ``ahead + 1`` items. Closing the generator waits for the item
    being computed; an exception raised by ``items`` is raised here, in order.
    """
    if ahead < 1:
        raise ValueError(f"ahead must be at least 1, not {ahead}")
    slots = threading.Semaphore(ahead)
    done: queue.Queue[tuple[bool, Any]] = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                item = next(items, _END)
                done.put((True, item))
                if item is _END:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            done.put((False, exc))

    thread = threading.Thread(target=produce, name="dg-ingest", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = done.get()
            if not ok:
                raise item
            if item is _END:
                return
            slots.release()
            yield item
    finally:
        stop.set()
        slots.release()  # a producer waiting for a slot wakes up and sees ``stop``
        thread.join()
