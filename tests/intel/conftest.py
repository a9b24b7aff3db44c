"""Fixtures for the intel tests: the hand-made provider_a scan output and its event store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from distillguard.events import decode_event, events_to_arrow
from distillguard.intel.keys import CommunityKey
from distillguard.store import DuckDBStore

DATA = Path(__file__).resolve().parent.parent / "data" / "intel"
PROVIDER_A = DATA / "provider_a"
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def load_events(path: Path, store: DuckDBStore, *, keep_text: bool = True) -> int:
    events = [decode_event(line) for line in path.read_bytes().splitlines() if line.strip()]
    return store.write(events_to_arrow(events, keep_text=keep_text)).inserted


@pytest.fixture()
def key() -> CommunityKey:
    return CommunityKey(bytes(range(32)))


@pytest.fixture()
def store_a(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "a.duckdb")
    load_events(PROVIDER_A / "events.jsonl", store)
    yield store
    store.close()


def validate_stix(bundle: dict[str, Any]) -> None:
    """Fail with the validator's messages unless ``bundle`` passes stix2-validator."""
    from stix2validator import ValidationOptions, validate_string

    res = validate_string(json.dumps(bundle), ValidationOptions(version="2.1"))
    if not res.is_valid:
        msgs = [str(e) for e in res.errors]
        raise AssertionError("stix2-validator: " + "; ".join(msgs[:20]))
