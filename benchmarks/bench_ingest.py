"""Ingest throughput and memory: DuckDB's own read_json vs distillguard's ingest_paths.

Generates realistic canonical JSONL (chat requests with system prompts, templated user
prompts, answers, client and account facts, parameters, usage) under /tmp, then, for each
input size and in a fresh child process each, loads it

* with DuckDB's ``read_json`` (auto-detected columns) into a table in a DuckDB file, and
* with ``ingest_paths`` (full validation, normalisation, flattening, idempotent insert) on
  the block fast path ("ours", the default), and
* with ``ingest_paths(..., fast_path=False)``, the per-line path ("per-line"),
* with ``--sql``, also with ``ingest_paths(..., sql_checks=True)`` ("ours sql": every rule
  checked in DuckDB SQL, ``distillguard.ingest.sqlcheck``),

and prints one table: events/s of each, our share of DuckDB's speed ("ratio", target >=
50%) and the peak resident memory of each child (its own plus its largest worker's). Memory
must not grow with the input size. ``--memory-limit`` sets the store's DuckDB
``memory_limit`` (``[store] memory_limit``) in our children. Files are deleted afterwards.

    .venv/bin/python benchmarks/bench_ingest.py --small    # 20 MB and 100 MB
    .venv/bin/python benchmarks/bench_ingest.py            # 100 MB and 500 MB
    .venv/bin/python benchmarks/bench_ingest.py --full     # 100 MB, 1 GB and 5 GB
    .venv/bin/python benchmarks/bench_ingest.py --sizes 1024 --memory-limit 1GB
    .venv/bin/python benchmarks/bench_ingest.py --sizes 1024 --no-per-line --ahead 1 3
    .venv/bin/python benchmarks/bench_ingest.py --sizes 1024 --no-per-line --split 10

With ``--split N`` each input is also cut into N files and every variant loads the
directory (DuckDB's ``read_json`` a glob of it): the row labelled ``1 GB/10``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

MB = 1024 * 1024
_WORDS = [
    "the",
    "model",
    "answer",
    "reasoning",
    "step",
    "list",
    "explain",
    "why",
    "how",
    "code",
    "function",
    "python",
    "data",
    "test",
    "write",
    "show",
    "each",
    "first",
    "then",
    "final",
    "result",
    "value",
    "error",
    "case",
    "example",
    "prove",
    "solve",
    "compute",
    "table",
    "summary",
    "review",
    "score",
    "rubric",
    "grade",
    "translate",
    "sort",
    "graph",
    "tree",
    "query",
    "cache",
    "build",
]
_TEMPLATES = [
    "Explain step by step how to {a} a {b} in {c}. Show all intermediate reasoning.",
    "Grade the following answer on a 1-10 rubric and justify the score: {a} {b} {c}",
    "Write a {c} function that can {a} any {b}, with tests.",
    "Translate into French: {a} {b} {c}.",
    "Summarise this document in three bullet points: {a} {b} {c}",
]
_MODELS = ["frontier-large", "frontier-mini", "reasoner-1"]
_UAS = ["python-httpx/0.27.0", "OpenAI/Python 1.40.0", "curl/8.5.0", "Mozilla/5.0"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(_WORDS, k=n))


def generate(path: Path, target_bytes: int, seed: int = 7) -> int:
    """Write realistic canonical JSONL of about ``target_bytes``; return the line count."""
    rng = random.Random(seed)
    enc = msgspec.json.Encoder()
    # A pool of answers and prompts keeps generation fast; ids and times vary per line.
    answers = [_text(rng, rng.randrange(30, 250)) for _ in range(500)]
    prompts = [
        rng.choice(_TEMPLATES).format(a=_text(rng, 3), b=_text(rng, 4), c=_text(rng, 2))
        for _ in range(2_000)
    ]
    systems = [_text(rng, rng.randrange(5, 40)) for _ in range(50)]
    t0 = 1_767_225_600
    written = n = 0
    with path.open("wb") as fh:
        buf: list[bytes] = []
        while written < target_bytes:
            acct = rng.randrange(20_000)
            ev = {
                "ts": t0 + n // 50 + rng.random(),
                "account_id": f"acct-{acct:06d}",
                "request_id": f"req-{seed}-{n:010d}",
                "org_id": f"org-{acct // 20:05d}",
                "api_key_id": f"key-{acct:06d}-{rng.randrange(3)}",
                "endpoint": "/v1/chat/completions",
                "model": rng.choice(_MODELS),
                "messages": [
                    {"role": "system", "content": rng.choice(systems)},
                    {"role": "user", "content": rng.choice(prompts)},
                ],
                "client": {
                    "ip": f"10.{acct % 256}.{rng.randrange(256)}.{rng.randrange(256)}",
                    "user_agent": rng.choice(_UAS),
                    "asn": rng.choice([13335, 16509, 14061, "AS24940"]),
                    "country": rng.choice(["US", "DE", "SG", "BR"]),
                },
                "account": {
                    "created_at": "2025-11-02T10:00:00Z",
                    "email_domain": rng.choice(["gmail.com", "corp.example", "proton.me"]),
                    "tier": rng.choice(["free", "tier-1", "tier-3", "enterprise"]),
                    "verified": rng.random() < 0.7,
                },
                "params": {"temperature": round(rng.random(), 2), "max_tokens": 1024},
                "response": {"text": rng.choice(answers), "finish_reason": "stop"},
                "usage": {
                    "input_tokens": rng.randrange(20, 900),
                    "output_tokens": rng.randrange(20, 900),
                },
                "status": 200,
                "latency_ms": round(rng.uniform(200, 9000), 1),
            }
            line = enc.encode(ev) + b"\n"
            buf.append(line)
            written += len(line)
            n += 1
            if len(buf) >= 10_000:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return n


def _load_variants(
    variants: list[tuple[str, str, str]], src: Path, work: Path, lines: int, mem: str
) -> list[dict[str, float]]:
    """Load ``src`` (a file or a directory of parts) once per variant, each in a child."""
    results = []
    for i, (_label, kind, path) in enumerate(variants):
        limit = mem if kind != "duckdb" else ""
        res = _run_child(kind, src, work / f"v{i}.duckdb", path, limit)
        assert res["n"] == lines, (kind, res, lines)
        results.append(res)
        for f in work.glob("*.duckdb*"):
            f.unlink()
    return results


def _split(src: Path, folder: Path, n: int, total: int) -> Path:
    """``src`` (``total`` lines) cut into ``n`` files of about as many lines, in ``folder``."""
    folder.mkdir()
    step = -(-total // n)
    with src.open("rb") as fh:
        for i in range(n):
            with (folder / f"part-{i:03d}.jsonl").open("wb") as out:
                out.writelines(itertools.islice(fh, step))
    return folder


def _peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def child(kind: str, src: Path, db: Path, memory_limit: str = "") -> None:
    """Load ``src`` into ``db`` one way and print a JSON result line."""
    start = time.perf_counter()
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(db))
        pattern = f"{src}/*.jsonl" if src.is_dir() else str(src)  # a split input: every part
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_json('{pattern}', format='newline_delimited')"
        ).fetchall()
        n = int(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
        con.close()
        extra: dict[str, int] = {}
    else:
        from distillguard.ingest import ingest_paths
        from distillguard.store import DuckDBStore

        workers = 2 if kind == "ours-2w" else 1
        if kind.startswith("ours-ahead"):  # groups validated ahead of the one being written
            from distillguard.ingest import direct

            direct.GROUPS_AHEAD = int(kind.removeprefix("ours-ahead"))
        with DuckDBStore(db, memory_limit=memory_limit) as store:
            rep = ingest_paths(
                [src],
                store,
                workers=workers,
                fast_path=kind != "per-line",
                sql_checks=kind == "ours-sql",
            )
        n = rep.accepted
        extra = {"read": rep.read, "quarantined": rep.quarantined}
    seconds = time.perf_counter() - start
    own, kids = _peak_rss_mb()
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru_self.ru_utime + ru_self.ru_stime + ru_kids.ru_utime + ru_kids.ru_stime
    print(json.dumps({"n": n, "s": seconds, "cpu": cpu, "rss": own + kids, "own": own, **extra}))


def _run_child(
    kind: str, src: Path, db: Path, pythonpath: str = "", memory_limit: str = ""
) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(src), str(db), memory_limit],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument(
        "--sizes", type=int, nargs="+", metavar="MB", help="input sizes in MB (overrides)"
    )
    ap.add_argument("--workers", action="store_true", help="add the workers=2 variant")
    ap.add_argument("--no-per-line", action="store_true", help="skip the per-line column")
    ap.add_argument(
        "--sql", action="store_true", help="add the SQL-checked block path ([ingest] sql_checks)"
    )
    ap.add_argument("--memory-limit", default="", help="[store] memory_limit for our children")
    ap.add_argument(
        "--ahead",
        type=int,
        nargs="+",
        default=[],
        metavar="N",
        help="also load with N groups validated ahead of the one being written "
        "(distillguard.ingest.direct.GROUPS_AHEAD; 'ours' uses the default)",
    )
    ap.add_argument(
        "--split",
        type=int,
        default=0,
        metavar="N",
        help="also load each input split into N files (a directory of logs), every variant",
    )
    ap.add_argument(
        "--baseline",
        metavar="SRC",
        help="also load each file with the distillguard package under SRC (e.g. an older "
        "checkout's src/, via `git archive`), in the same run: the 'before' column",
    )
    ap.add_argument(
        "--child", nargs=4, metavar=("KIND", "SRC", "DB", "MEM"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.child[3])
        return
    mem = args.memory_limit
    sizes = [20, 100] if args.small else ([100, 1024, 5120] if args.full else [100, 500])
    sizes = args.sizes or sizes
    # (column label, child kind, PYTHONPATH); DuckDB's own read_json comes first.
    variants = [("duckdb", "duckdb", ""), ("ours", "ours", "")]
    if not args.no_per_line:
        variants.append(("per-line", "per-line", ""))
    if args.sql:
        variants.append(("ours sql", "ours-sql", ""))
    if args.workers:
        variants.append(("ours 2w", "ours-2w", ""))
    if args.baseline:
        variants.append(("before", "ours", args.baseline))
    variants += [(f"ahead {n}", f"ours-ahead{n}", "") for n in args.ahead]
    rows: list[tuple[int, int, list[dict[str, float]]]] = []
    work = Path(tempfile.mkdtemp(prefix="dg-bench-ingest-", dir="/tmp"))
    try:
        for size in sizes:
            src = work / f"events-{size}mb.jsonl"
            lines = generate(src, size * MB)
            results = _load_variants(variants, src, work, lines, mem)
            rows.append((size, lines, results))
            print(size, results, f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
            if args.split > 1:
                parts = _split(src, work / f"parts-{size}mb", args.split, lines)
                results = _load_variants(variants, parts, work, lines, mem)
                rows.append((-size, lines, results))  # negative: the split row
                shutil.rmtree(parts)
            src.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = f"{'input':>8} {'events':>10}"
    for label, _kind, _path in variants:
        ratio = "" if label == "duckdb" else f" {'ratio':>6}"
        head += f" | {label + ' ev/s':>13} {'CPU us/ev':>9} {'RSS MB':>7}{ratio}"
    print(head)
    print("-" * len(head))
    for size, lines, results in rows:
        split = f"/{args.split}" if size < 0 else ""
        size = abs(size)
        label = (f"{size} MB" if size < 1024 else f"{size // 1024} GB") + split
        line = f"{label:>8} {lines:>10,}"
        d_eps = results[0]["n"] / results[0]["s"]
        for i, res in enumerate(results):
            eps = res["n"] / res["s"]
            line += f" | {eps:>13,.0f} {res['cpu'] / res['n'] * 1e6:>9,.1f} {res['rss']:>7,.0f}"
            if i:
                line += f" {eps / d_eps:>6.0%}"
        print(line)
    if mem:
        print(f"our children ran with [store] memory_limit = {mem}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
