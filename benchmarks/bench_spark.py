"""Scale-out: the scan's SQL stages on DuckDB and on Spark local[1] / local[2], same lake.

A seeded generator writes an event lake (privacy mode: no prompt text, so the stages are the
SQL ones: features, scoring prior, linking). The pipeline's own functions run on DuckDB
through a recording connection; the recorded statements are replayed on Spark (a fresh
process per master), timed per stage. Prints one table: events/s and seconds per stage.

    .venv/bin/python benchmarks/bench_spark.py --small          # 100k events
    .venv/bin/python benchmarks/bench_spark.py --sizes 1000000,3000000
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.events.schema import ARROW_SCHEMA, COLUMN_NAMES

STAGES = {
    "features": ("_f_", "account_features"),
    "linking": ("_l_", "account_edges", "account_graph", "account_prior"),
}


def generate_lake(root: Path, n: int, seed: int = 7) -> None:
    """Write ``n`` synthetic events (100 per account on average, 7 days) as a day lake."""
    rng = np.random.default_rng(seed)
    accounts = max(n // 100, 10)
    acct = rng.zipf(1.3, n) % accounts
    t0 = 1_767_225_600  # 2026-01-01
    ts = t0 + rng.integers(0, 7 * 86400, n) + rng.random(n)
    order = np.argsort(ts)
    acct, ts = acct[order], ts[order]
    ip_pool = np.array([f"10.{i // 250 % 250}.{i % 250}.{i % 7}" for i in range(accounts // 3 + 1)])
    cols: dict[str, Any] = {c: pa.nulls(n, ARROW_SCHEMA.field(c).type) for c in COLUMN_NAMES}
    acct_s = np.char.add("acct-", acct.astype(str))
    cols.update(
        event_id=pa.array(np.char.add("e", np.arange(n).astype(str))),
        ts=pa.array((ts * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
        account_id=pa.array(acct_s),
        org_id=pa.array(np.char.add("org-", (acct // 5).astype(str))),
        model=pa.array(np.array(["m-large", "m-small", "m-new"])[rng.integers(0, 3, n)]),
        client_ip=pa.array(ip_pool[(acct // 3) % len(ip_pool)]),
        client_asn=pa.array((acct % 97 + 64500).astype("int64")),
        client_user_agent=pa.array(np.array(["python-requests", "curl", "openai-py"])[acct % 3]),
        client_country=pa.array(np.array(["US", "DE", "SG"])[acct % 3]),
        account_created_at=pa.array(
            ((t0 - 86400 * (acct % 90)) * 1_000_000).astype("int64"), pa.timestamp("us", tz="UTC")
        ),
        account_email_domain=pa.array(np.array(["mail.com", "corp.de", "x.sg"])[acct % 3]),
        account_payment_fingerprint=pa.array(np.char.add("pay-", (acct // 4).astype(str))),
        account_tier=pa.array(np.array(["free", "tier1", "tier5"])[acct % 3]),
        account_verified=pa.array(acct % 4 != 0),
        param_max_tokens=pa.array(rng.choice([256, 1024, 4096], n).astype("int64")),
        param_n=pa.array(rng.choice([1, 1, 1, 4], n).astype("int64")),
        param_logprobs=pa.array(rng.random(n) < 0.1),
        finish_reason=pa.array(np.array(["stop", "length"])[(rng.random(n) < 0.2).astype(int)]),
        input_tokens=pa.array(rng.integers(10, 2000, n)),
        output_tokens=pa.array(rng.integers(10, 4000, n)),
    )
    table = pa.table([cols[c] for c in COLUMN_NAMES], schema=ARROW_SCHEMA)
    day = np.datetime_as_string(ts.astype("datetime64[s]"), unit="D")
    for d in np.unique(day):
        (root / f"day={d}").mkdir(parents=True, exist_ok=True)
        part = table.filter(pa.array(day == d))
        pq.write_table(part, root / f"day={d}" / "part-0.parquet", compression="zstd")


def stage_of(sql: str) -> str:
    from distillguard.engine.recording import _target

    t = _target(sql)
    for stage, prefixes in STAGES.items():
        if any(t.startswith(p) for p in prefixes):
            return stage
    return "other"


def run_duckdb(lake: Path, threads: int) -> tuple[dict[str, float], list[Any]]:
    from distillguard.detect.config import DetectConfig
    from distillguard.detect.features import compute_features
    from distillguard.detect.linking import build_edges
    from distillguard.detect.ruleset import load_rules
    from distillguard.detect.scan import _write_prior
    from distillguard.detect.scoring import score_account
    from distillguard.engine.recording import RecordingConnection
    from distillguard.ingest.lake import lake_select_sql

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}").fetchall()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    rec = RecordingConnection(con)
    times: dict[str, float] = {}
    t = time.perf_counter()
    rec.execute(f"CREATE OR REPLACE TEMP VIEW ev AS {lake_select_sql(lake)}")
    cfg, rules = DetectConfig(), load_rules(())
    feats = compute_features(rec, cfg, events="ev")
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = con.sql("SELECT * FROM account_features").to_arrow_table().to_pylist()
    _write_prior(rec, {str(r["account_id"]): score_account(r, rules) for r in rows})
    build_edges(
        rec, cfg, events="ev", has_fam=False, sig_cols=feats.signal_columns, prior="account_prior"
    )
    times["linking"] = time.perf_counter() - t
    ops = [op for op in rec.ops if not op.catalog and op.kind != "query"]
    return times, ops


#: Tables whose rows end a stage: counted so that lazily materialised tables are computed
#: inside the stage that defines them.
STAGE_OUTPUTS = {"features": ("account_features",), "linking": ("account_edges", "account_graph")}


def run_spark(
    lake: Path, master: str, ops_file: Path, materialize: str, partitions: int
) -> dict[str, float]:
    from distillguard.spark.config import SparkConfig
    from distillguard.spark.engine import SparkEngine

    t = time.perf_counter()
    cfg = SparkConfig(
        master=master,
        shuffle_partitions=partitions,
        driver_memory="6g",
        materialize=materialize,
    )
    eng = SparkEngine(cfg)
    times = {"start": time.perf_counter() - t}
    ops = pickle.loads(ops_file.read_bytes())
    raw = eng.register_parquet("events_raw", lake)
    del raw
    done: set[str] = set()

    def finish(stage: str) -> None:
        t = time.perf_counter()
        for table in STAGE_OUTPUTS.get(stage, ()):
            eng.arrow(f"SELECT count(*) FROM {table}")  # noqa: S608 -- fixed names
        times[stage] = times.get(stage, 0.0) + time.perf_counter() - t
        done.add(stage)

    for op in ops:
        st = stage_of(op.sql) if op.sql else "linking"
        if st == "linking" and "features" not in done:
            finish("features")
        t = time.perf_counter()
        if op.kind == "register":
            eng.register_arrow(op.name, op.table)
        elif op.kind == "unregister":
            eng.drop(op.name)
        elif op.sql.lstrip().upper().startswith("CREATE OR REPLACE TEMP VIEW EV"):
            eng.create("ev", "SELECT " + ", ".join(COLUMN_NAMES) + " FROM events_raw", kind="view")
        else:
            eng.execute(op.sql, op.params)
        times[st] = times.get(st, 0.0) + time.perf_counter() - t
    finish("linking")
    eng.spark.stop()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--masters", default="local[1],local[2]")
    ap.add_argument("--materialize", default="checkpoint", help="[spark] materialize mode")
    ap.add_argument("--partitions", type=int, default=8, help="spark.sql.shuffle.partitions")
    ap.add_argument("--worker", nargs=3, metavar=("LAKE", "MASTER", "OPS"))
    args = ap.parse_args()
    if args.worker:
        lake, master, ops = args.worker
        times = run_spark(Path(lake), master, Path(ops), args.materialize, args.partitions)
        sys.stdout.write(repr(times) + "\n")
        return
    sizes = [100_000] if args.small else [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        for n in sizes:
            lake = Path(tmp) / f"lake-{n}"
            t = time.perf_counter()
            generate_lake(lake, n)
            gen_s = time.perf_counter() - t
            for threads in (1, 2):
                times, ops = run_duckdb(lake, threads)
                rows.append((n, f"duckdb threads={threads}", 0.0, times))
                print(f"# {rows[-1]}", file=sys.stderr, flush=True)
            ops_file = Path(tmp) / "ops.pkl"
            ops_file.write_bytes(pickle.dumps(ops))
            for master in args.masters.split(","):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--materialize",
                        args.materialize,
                        "--partitions",
                        str(args.partitions),
                        "--worker",
                        str(lake),
                        master,
                        str(ops_file),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 -- our own repr
                rows.append((n, f"spark {master} {args.materialize}", times.pop("start"), times))
                print(f"# {rows[-1]}", file=sys.stderr, flush=True)
            print(f"# {n:,} events generated in {gen_s:.1f} s", file=sys.stderr)
    print(
        f"{'events':>10} | {'engine':<20} | {'start s':>7} | {'features s':>10} | "
        f"{'linking s':>9} | {'total s':>7} | {'events/s':>9}"
    )
    for n, name, start, times in rows:
        total = sum(times.values())
        print(
            f"{n:>10,} | {name:<20} | {start:>7.1f} | {times.get('features', 0):>10.2f} | "
            f"{times.get('linking', 0) + times.get('other', 0):>9.2f} | {total:>7.2f} | "
            f"{n / total:>9,.0f}"
        )


if __name__ == "__main__":
    main()
