"""Fixtures for ingest tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from distillguard.store import DuckDBStore

DATA = Path(__file__).resolve().parent.parent / "data" / "ingest"


def event_obj(i: int, **over: Any) -> dict[str, Any]:
    """A realistic canonical event, varied by ``i``."""
    obj: dict[str, Any] = {
        "ts": 1767225600 + i,
        "account_id": f"acct-{i % 7}",
        "request_id": f"req-{i}",
        "org_id": f"org-{i % 3}",
        "model": ["m-large", "m-small"][i % 2],
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"Explain step {i % 5} of the proof."},
        ],
        "client": {"ip": f"10.0.0.{i % 250}", "asn": "AS13335", "user_agent": "httpx"},
        "params": {"temperature": 0.5, "max_tokens": 256},
        "response": {"text": f"answer {i}", "finish_reason": "stop"},
        "usage": {"input_tokens": 10 + i, "output_tokens": 20},
        "status": 200,
    }
    obj.update(over)
    return obj


def lines_of(objs: list[dict[str, Any]]) -> bytes:
    enc = msgspec.json.Encoder()
    return b"".join(enc.encode(o) + b"\n" for o in objs)


@pytest.fixture()
def data_dir() -> Path:
    return DATA


@pytest.fixture()
def store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:")
    yield s
    s.close()


@pytest.fixture()
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    def _write(name: str, objs: list[dict[str, Any]], extra: bytes = b"") -> Path:
        p = tmp_path / name
        p.write_bytes(lines_of(objs) + extra)
        return p

    return _write
