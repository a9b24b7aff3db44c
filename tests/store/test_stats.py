from __future__ import annotations

from datetime import UTC, datetime

import pytest

from distillguard.events import decode_event, events_to_arrow
from distillguard.store import DuckDBStore, MemoryStore
from distillguard.store.stats import store_stats


def _load(store: DuckDBStore | MemoryStore) -> None:
    lines = []
    # one prompt shared by 3 accounts, one by 1 account
    for i, (acct, prompt) in enumerate(
        [("a", "shared"), ("b", "shared"), ("c", "shared"), ("c", "shared"), ("a", "solo")]
    ):
        lines.append(
            f'{{"ts": {1767225600 + i * 60}, "account_id": "{acct}", "org_id": "o{i % 2}", '
            f'"model": "{"big" if i < 3 else "small"}", "prompt": "{prompt}", '
            f'"request_id": "r{i}"}}'
        )
    store.write(events_to_arrow([decode_event(x) for x in lines], keep_text=True))


@pytest.mark.parametrize("kind", ["duckdb", "memory"])
def test_store_stats(kind: str) -> None:
    store = DuckDBStore(":memory:") if kind == "duckdb" else MemoryStore()
    _load(store)
    s = store_stats(store, top=5)
    assert (s.events, s.accounts, s.orgs) == (5, 3, 2)
    assert s.first_ts == datetime(2026, 1, 1, tzinfo=UTC)
    assert s.last_ts == datetime(2026, 1, 1, 0, 4, tzinfo=UTC)
    assert s.models == (("big", 3), ("small", 2))
    top = s.templates[0]
    assert (top.accounts, top.events, top.example) == (3, 4, "shared")
    assert s.templates[1].accounts == 1
    assert s.ingest_runs == ()
    store.close()
