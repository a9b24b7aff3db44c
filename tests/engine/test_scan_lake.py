"""A scan reading an event lake gives the same verdicts as a scan of the same log's store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from distillguard.detect.scan import run_scan
from distillguard.ingest.lake import LakeStore
from distillguard.ingest.run import ingest_paths

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_scan_of_lake_equals_scan_of_store(tmp_path: Path) -> None:
    from distillguard.sim import load_scenario, simulate

    sim = simulate(load_scenario("demo-week"), tmp_path / "sim", seed=7, scale=0.01)
    with LakeStore(tmp_path / "lake") as store:
        ingest_paths([sim.events_path], store, keep_text=True)
    direct = run_scan([sim.events_path], tmp_path / "direct", now=NOW)
    via_lake = run_scan(None, tmp_path / "lake-scan", lake=tmp_path / "lake", now=NOW)
    assert via_lake.events == direct.events > 1000
    assert via_lake.accounts_csv.read_text() == direct.accounts_csv.read_text()
    assert [c.accounts for c in via_lake.campaigns] == [c.accounts for c in direct.campaigns]
