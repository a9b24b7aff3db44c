"""The event lake: day partitions, idempotent re-ingest, readable by DuckDB as is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from distillguard.cli import main
from distillguard.engine import DuckDBEngine
from distillguard.errors import StoreError
from distillguard.events import events_to_arrow
from distillguard.events.validate import decode_event
from distillguard.ingest.lake import LakeStore, lake_days, lake_select_sql
from distillguard.ingest.run import ingest_paths


def _lines(n: int, start: datetime) -> list[str]:
    out = []
    for i in range(n):
        ts = start + timedelta(hours=7 * i)
        out.append(
            json.dumps(
                {
                    "ts": ts.isoformat(),
                    "account_id": f"acct-{i % 3}",
                    "request_id": f"req-{i}",
                    "prompt": f"question {i}",
                    "usage": {"input_tokens": i, "output_tokens": 2 * i},
                }
            )
        )
    return out


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_partitions_by_utc_day_and_keeps_the_stored_schema(tmp_path: Path) -> None:
    log = _write(tmp_path / "a.jsonl", _lines(10, datetime(2026, 1, 5, 1, tzinfo=UTC)))
    with LakeStore(tmp_path / "lake") as lake:
        rep = ingest_paths([log], lake, keep_text=True)
    assert (rep.read, rep.accepted, rep.duplicates) == (10, 10, 0)
    assert lake_days(tmp_path / "lake") == ["2026-01-05", "2026-01-06", "2026-01-07"]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    rows = con.execute(
        f"SELECT strftime(ts, '%Y-%m-%d'), count(*), sum(output_tokens), count(prompt_text) "
        f"FROM ({lake_select_sql(tmp_path / 'lake')}) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("2026-01-05", 4, 12, 4), ("2026-01-06", 3, 30, 3), ("2026-01-07", 3, 48, 3)]


def test_reingest_is_idempotent_and_adds_only_new_events(tmp_path: Path) -> None:
    lines = _lines(12, datetime(2026, 1, 5, tzinfo=UTC))
    first = _write(tmp_path / "a.jsonl", lines[:8])
    again = _write(tmp_path / "b.jsonl", lines[4:] + lines[4:5])  # overlap + a repeat
    with LakeStore(tmp_path / "lake") as lake:
        ingest_paths([first], lake)
    with LakeStore(tmp_path / "lake") as lake:
        rep = ingest_paths([again], lake)
        assert rep.accepted == 4 and rep.duplicates == 5
        total = lake.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert total.to_pylist() == [{"n": 12, "d": 12}]


def test_small_files_flush_and_tmp_files_never_remain(tmp_path: Path) -> None:
    events = [decode_event(line.encode()) for line in _lines(9, datetime(2026, 1, 5, tzinfo=UTC))]
    with LakeStore(tmp_path / "lake", rows_per_file=2) as lake:
        for i in range(0, 9, 3):  # days get 4, 3 and 2 events: flushed at 2, rest on close
            lake.write(events_to_arrow(events[i : i + 3], keep_text=False))
        assert len(lake.files_written) == 3
    assert len(lake.files_written) == 5
    assert not list((tmp_path / "lake").rglob(".*.tmp"))
    eng = DuckDBEngine()
    eng.register_parquet("lake", tmp_path / "lake")
    assert eng.arrow("SELECT count(*) AS n FROM lake").to_pylist() == [{"n": 9}]
    assert "day" in eng.columns("lake")


def test_store_write_counts_in_batch_duplicates(tmp_path: Path) -> None:
    ev = decode_event(b'{"ts": 1767600000, "account_id": "a", "request_id": "r1"}')
    batch = events_to_arrow([ev, ev, ev], keep_text=False)
    with LakeStore(tmp_path / "lake") as lake:
        res = lake.write(batch)
    assert (res.inserted, res.duplicates) == (1, 2)


def test_lake_must_be_a_folder(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="must be a folder"):
        LakeStore(f)


@pytest.mark.parametrize("flag", ["--lake", "--out"])
def test_cli_ingest_lake_writes_partitions_and_quarantine(tmp_path: Path, flag: str) -> None:
    lines = _lines(3, datetime(2026, 1, 5, tzinfo=UTC)) + ['{"account_id": "no-ts"}']
    log = _write(tmp_path / "a.jsonl", lines)
    assert main(["ingest", str(log), flag, str(tmp_path / "lake")]) == 0
    assert lake_days(tmp_path / "lake") == ["2026-01-05"]
    assert (tmp_path / "lake" / "_quarantine.jsonl").read_text().count("\n") == 1
