"""The summary tables: kept in a sidecar file per scan, reused on restart, rebuilt on change,
and equal to what the pages would otherwise compute from the scan itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from distillguard.console import queries
from distillguard.console.graph import graph_body
from distillguard.console.summaries import SUMMARY_VERSION, open_scan


def test_summaries_are_built_once_and_reused(scan_dir: Path, tmp_path: Path) -> None:
    first = open_scan(scan_dir / "scan.duckdb", cache_dir=tmp_path)
    try:
        assert not first.summary_reused and first.summary_path is not None
        assert first.summary_path.parent == tmp_path and first.summary_path.is_file()
        members = queries.members(first, "campaign-001", 1, 10, "volume")
        body = graph_body(first, "campaign-001")
        counts = dict(first.counts)
        population = dict(first.population)
    finally:
        first.close()
    again = open_scan(scan_dir / "scan.duckdb", cache_dir=tmp_path)
    try:
        assert again.summary_reused and again.summary_path == first.summary_path
        assert "built_buckets" in again.timings  # the first build's timings come along
        assert queries.members(again, "campaign-001", 1, 10, "volume") == members
        assert graph_body(again, "campaign-001") == body
        assert again.counts == counts and again.population == population
    finally:
        again.close()
    assert [p.name for p in tmp_path.iterdir()] == [first.summary_path.name]


def test_a_changed_scan_gets_new_summaries_and_the_old_file_goes(
    scan_dir: Path, tmp_path: Path
) -> None:
    scan = tmp_path / "scan"
    scan.mkdir()
    for name in ("scan.duckdb", "campaigns.json", "accounts.csv"):
        shutil.copy(scan_dir / name, scan / name)
    cache = tmp_path / "cache"
    old = open_scan(scan / "scan.duckdb", cache_dir=cache)
    old.close()
    st = (scan / "scan.duckdb").stat()
    os.utime(scan / "scan.duckdb", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    new = open_scan(scan / "scan.duckdb", cache_dir=cache)
    try:
        assert not new.summary_reused and new.summary_path != old.summary_path
        assert old.summary_path is not None and not old.summary_path.exists()
        assert new.summary_path is not None and new.summary_path.is_file()
    finally:
        new.close()


def test_unwritable_cache_folder_falls_back_to_memory(scan_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    data = open_scan(scan_dir / "scan.duckdb", cache_dir=blocker / "cache")
    try:
        assert data.summary_path is None and not data.summary_reused
        assert data.members("campaign-001")
    finally:
        data.close()


def test_precomputed_member_ranks_match_a_direct_query(scan_dir: Path, tmp_path: Path) -> None:
    data = open_scan(scan_dir / "scan.duckdb", cache_dir=tmp_path)
    try:
        cid = "campaign-001"
        direct = [
            r["account_id"]
            for r in data.rows(
                """SELECT m.account_id FROM c_members m
                   LEFT JOIN scan.account_features f USING (account_id)
                   WHERE m.campaign_id = ? ORDER BY f.n_events DESC NULLS LAST, m.account_id""",
                [cid],
            )
        ]
        paged = [
            r["account_id"]
            for p in range(1, 4)
            for r in queries.members(data, cid, p, 7, "volume").rows
        ]
        assert paged == direct[:21]
        assert queries.members(data, cid, 1, 7, "volume").total == len(direct)
        links = queries.strongest_links(data, cid, 1, 5)
        weights = [r["weight"] for r in links.rows]
        assert weights == sorted(weights, reverse=True) and all(r["reasons"] for r in links.rows)
        meta = data.rows("SELECT value FROM c_meta WHERE key = 'version'")
        assert meta == [{"value": str(SUMMARY_VERSION)}]
    finally:
        data.close()
