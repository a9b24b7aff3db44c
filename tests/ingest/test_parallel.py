"""``pipelined``: order, bounded look-ahead, errors and early close (deterministic)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.ingest.parallel import pipelined


class _Counted:
    """An iterator of ``0..n-1`` that records how far it got and can be held back."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.started = 0
        self.at_gate = -1  # the item the producer is waiting to be let through for
        self.gate = threading.Semaphore(0)
        self.gated = False
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                if self.gated:
                    self.at_gate = i
                    self.gate.acquire()
                self.started = i + 1
                if i == self.fail_at:
                    raise RuntimeError(f"item {i} failed")
                yield i
        finally:
            self.closed.set()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.integers(1, 5))
def test_yields_every_item_in_order(n: int, ahead: int) -> None:
    assert list(pipelined(iter(_Counted(n)), ahead=ahead)) == list(range(n))


@pytest.mark.parametrize("ahead", [1, 2, 4])
def test_the_producer_runs_exactly_ahead_items_ahead(ahead: int) -> None:
    src = _Counted(50)
    gen = pipelined(iter(src), ahead=ahead)
    for taken in range(1, 20):
        assert next(gen) == taken - 1
        assert src.started <= taken + ahead  # never further ahead
        waited = 0
        while src.started < taken + ahead and waited < 5000:  # it does get that far
            threading.Event().wait(0.002)
            waited += 1
        assert src.started == taken + ahead
    threading.Event().wait(0.02)
    assert src.started == 19 + ahead  # and stops there while the consumer holds back
    gen.close()


def test_an_error_is_raised_in_order_after_the_items_before_it() -> None:
    got: list[int] = []
    with pytest.raises(RuntimeError, match="item 7 failed"):
        for item in pipelined(iter(_Counted(20, fail_at=7)), ahead=3):
            got.append(item)
    assert got == list(range(7))


def test_closing_early_stops_the_producer_and_waits_for_it() -> None:
    src = _Counted(1000)
    src.gated = True
    for _ in range(2):
        src.gate.release()
    gen = pipelined(iter(src), ahead=2)
    assert next(gen) == 0
    # Wait until the producer is held at the third item's gate: closing before it gets there
    # would return at once (a loaded fresh-clone CI run did so), which is not what is tested.
    waited = 0
    while src.at_gate < 2 and waited < 5000:
        threading.Event().wait(0.002)
        waited += 1
    assert src.at_gate == 2
    closer = threading.Thread(target=gen.close)
    closer.start()
    closer.join(0.05)
    assert closer.is_alive()  # the producer is inside next() (held at the gate): close waits
    src.gate.release()
    closer.join(5)
    assert not closer.is_alive()
    assert src.started == 3  # nothing more was computed after the close
    threads = [t.name for t in threading.enumerate()]
    assert "dg-ingest" not in threads


def test_ahead_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(pipelined(iter([1]), ahead=0))
