"""The detection stages run unchanged through EngineConnection and give DuckDB's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from distillguard.detect import scan as scan_mod
from distillguard.detect.config import DetectConfig
from distillguard.detect.features import compute_features
from distillguard.detect.linking import build_edges, cluster
from distillguard.engine import DuckDBEngine
from distillguard.engine.compat import EngineConnection
from distillguard.engine.recording import rows_of
from distillguard.ingest.lake import LakeStore, lake_select_sql
from distillguard.ingest.run import ingest_paths


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from distillguard.sim import load_scenario, simulate

    root = tmp_path_factory.mktemp("compat")
    sim = simulate(load_scenario("demo-week"), root / "sim", seed=7, scale=0.01)
    with LakeStore(root / "lake") as store:
        ingest_paths([sim.events_path], store, keep_text=True)
    return root / "lake"


def _stages(con: Any, lake: Path) -> dict[str, Any]:
    con.execute(f"CREATE OR REPLACE TEMP VIEW ev AS {lake_select_sql(lake)}").fetchall()
    scan_mod._annotate(con, False)
    cfg = DetectConfig()
    feats = compute_features(con, cfg, events="ev")
    edges = build_edges(con, cfg, events="ev", has_fam=True, sig_cols=feats.signal_columns)
    n = cluster(con, cfg)
    return {
        "features": con.sql("SELECT * FROM account_features").to_arrow_table(),
        "edges": edges,
        "communities": n,
        "signals": feats.signal_columns,
    }


def test_stages_through_engine_connection_match_a_plain_connection(lake: Path) -> None:
    plain = duckdb.connect()
    plain.execute("SET TimeZone = 'UTC'").fetchall()
    want = _stages(plain, lake)
    eng = DuckDBEngine()
    got = _stages(EngineConnection(eng), lake)
    assert got["signals"] == want["signals"] and len(want["signals"]) >= 3
    assert got["edges"] == want["edges"]
    assert got["communities"] == want["communities"]
    assert rows_of(got["features"]) == rows_of(want["features"])
    eng.close()


def test_catalog_queries_are_answered_by_the_engine() -> None:
    eng = DuckDBEngine()
    con = EngineConnection(eng)
    con.execute("CREATE TABLE t AS SELECT 1 AS a, 'x' AS b").fetchall()
    assert ("t",) in con.execute("SHOW TABLES").fetchall()
    q = "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
    assert con.execute(q, ["t"]).fetchall() == [("a",), ("b",)]
    assert con.execute(q, ["missing"]).fetchall() == []
    assert con.execute("SELECT a + 1 FROM t").fetchall() == [(2,)]
    tq = "SELECT table_name FROM information_schema.tables WHERE table_name IN ('t', 'nope')"
    assert con.execute(tq).fetchall() == [("t",)]
    eng.close()


def test_reader_batches_are_the_requested_size_whatever_the_engine_chunks() -> None:
    """Regression: Spark's result chunks follow its partitions and ``maxRecordsPerBatch`` (a
    test left it at 3 in the shared session); template families are assigned batch by batch,
    so the Spark scan of the parity lake formed other families than DuckDB's."""
    import pyarrow as pa

    class Chunky(DuckDBEngine):
        def arrow(self, query: str, params: Any = None) -> pa.Table:
            t = super().arrow(query, params)
            return pa.Table.from_batches(t.to_batches(max_chunksize=3), t.schema)

    eng = Chunky()
    try:
        con = EngineConnection(eng)
        batches = list(con.sql("SELECT range AS x FROM range(25)").to_arrow_reader(10))
        assert [b.num_rows for b in batches] == [10, 10, 5]
        assert [x for b in batches for x in b.column(0).to_pylist()] == list(range(25))
        assert list(con.sql("SELECT 1 AS x WHERE false").to_arrow_reader(10)) == []
    finally:
        eng.close()
