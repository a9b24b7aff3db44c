"""Request signals: held-out precision/recall per signal, prompts/s per signal and for annotate.

Usage: ``.venv/bin/python benchmarks/bench_signals.py [--small]``. Needs ../shared/data.
Quality: the held-out precision, recall and false-positive rate that
``scripts/train_signals.py`` measured when it made the shipped models (a model fitted without
the held-out split — whole payload corpora, whole wrapper styles, the real attack corpora —
scored on that split), read from each artefact's metadata; ``--retrain`` recomputes them.
Speed (after a warm-up that loads the models and the compiled kernels): scoring a mixed set
of distinct prompts, then ``annotate_prompts`` end to end (DuckDB in, two tables out) on the
same prompts as events, its rate per CPU-second (all threads), and a fixed baseline measured
in the same run on the same prompts (DuckDB lower-casing and regex-splitting them), so that
runs on a machine shared with other jobs can be compared by ratio.
Prints one table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "src"))

from distillguard.detect.annotate import annotate_prompts  # noqa: E402
from distillguard.detect.signals import LANGUAGE, SIGNALS, tokenize  # noqa: E402
from distillguard.detect.signals import corpus as C  # noqa: E402
from distillguard.detect.signals.base import score_signals  # noqa: E402
from distillguard.detect.signals.model import artefact_path, read_model  # noqa: E402
from distillguard.events.schema import ARROW_SCHEMA, COLUMN_NAMES, prompt_digest  # noqa: E402
from distillguard.store import DuckDBStore  # noqa: E402


def _prompts(n: int, seed: int) -> list[str]:
    cor = C.load_corpora(ROOT.parent / "shared" / "data")
    exs = C.examples(cor, seed=seed, per_style=200)
    rng = random.Random(seed)
    base = [e.text for e in exs]
    # distinct prompts: campaign payloads are unique, so vary every copy slightly
    return [f"{rng.choice(base)} (ref {i})" for i in range(n)]


def _events_table(prompts: list[str]) -> object:
    import pyarrow as pa

    n = len(prompts)
    cols: dict[str, object] = {c: pa.nulls(n, ARROW_SCHEMA.field(c).type) for c in COLUMN_NAMES}
    cols["event_id"] = pa.array([f"e{i}" for i in range(n)])
    cols["account_id"] = pa.array([f"a{i % 5000}" for i in range(n)])
    cols["org_id"] = pa.array([f"o{i % 2000}" for i in range(n)])
    cols["prompt_text"] = pa.array(prompts)
    cols["prompt_digest"] = pa.array([prompt_digest(p) for p in prompts])
    return pa.table(cols, schema=ARROW_SCHEMA)


BASELINE_SQL = (
    "SELECT sum(len(string_split_regex(lower(prompt_text), '[^a-z0-9_]+'))) "
    "FROM (SELECT prompt_digest, any_value(prompt_text) AS prompt_text FROM events "
    "GROUP BY prompt_digest)"
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    n = 10_000 if args.small else 50_000
    report: dict[str, dict[str, float]] = {}
    if args.retrain:
        import train_signals

        with tempfile.TemporaryDirectory() as tmp:
            report = train_signals.train(  # type: ignore[assignment]
                ROOT.parent / "shared" / "data", Path(tmp), quick=False, seed=0
            )
    else:
        for name in SIGNALS:
            meta = read_model(artefact_path(name), name).meta
            report[name] = meta["held_out"]  # type: ignore[assignment]
    prompts = _prompts(n, 1)
    rows = []
    t = time.perf_counter()
    batch = tokenize(prompts)
    t_tok = time.perf_counter() - t
    score_signals(SIGNALS, tokenize(prompts[:100]))  # load models and compiled kernels first
    for name, sig in SIGNALS.items():
        batch.cache.clear()
        t = time.perf_counter()
        sig.score_batch(batch)
        rows.append((name, report[name], n / (time.perf_counter() - t)))
    batch.cache.clear()
    t = time.perf_counter()
    score_signals(SIGNALS, batch)
    t_all = time.perf_counter() - t
    t = time.perf_counter()
    LANGUAGE.detect_batch(batch)
    t_lang = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up on other prompts: loads the compiled kernels (a once-per-process cost)
        warm = DuckDBStore(Path(tmp) / "w.duckdb")
        warm.write(_events_table(_prompts(2_000, 2)))  # type: ignore[arg-type]
        annotate_prompts(warm.con)
        warm.close()
        st = DuckDBStore(Path(tmp) / "b.duckdb")
        st.write(_events_table(prompts))  # type: ignore[arg-type]
        t, c = time.perf_counter(), time.process_time()
        rep = annotate_prompts(st.con)
        t_ann, c_ann = time.perf_counter() - t, time.process_time() - c
        # fixed baseline in the same run: DuckDB lower-cases and splits the same prompts
        t, c = time.perf_counter(), time.process_time()
        st.con.execute(BASELINE_SQL).fetchall()
        t_base, c_base = time.perf_counter() - t, time.process_time() - c
        st.close()
    avg = float(np.mean([len(p) for p in prompts]))
    print(
        f"{n} distinct prompts, mean {avg:.0f} chars; held-out split: payload corpora "
        f"{', '.join(C.TEST_PAYLOADS)}, wrapper styles "
        f"{sorted(sum(C.HELD_OUT_STYLES.values(), ()))}, "
        "tensor-trust attacks"
    )
    print(
        "| signal | held-out precision | held-out recall | held-out FPR | pos / neg | prompts/s |"
    )
    print("|---|---|---|---|---|---|")
    for name, m, speed in rows:
        print(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['fpr']:.4f} | "
            f"{m['n_pos']} / {m['n_neg']} | {speed:,.0f} |"
        )
    print(f"| (tokenise, shared) | | | | | {n / t_tok:,.0f} |")
    print(f"| (all six signals together, shared features) | | | | | {n / t_all:,.0f} |")
    print(f"| (language) | | | | | {n / t_lang:,.0f} |")
    print(
        f"| **annotate_prompts** (all signals + language + families, DuckDB in/out) | | | | "
        f"{rep.families} families | {n / t_ann:,.0f} |"
    )
    print(
        f"| (annotate_prompts per CPU-second, all threads) | | | | | {n / c_ann:,.0f} |\n"
        f"| (baseline: DuckDB lower + regex split, same prompts) | | | | | {n / t_base:,.0f} |\n"
        f"| (annotate time / baseline time, wall; CPU) | | | | | "
        f"{t_ann / t_base:.1f}x; {c_ann / max(c_base, 1e-9):.1f}x |\n"
        f"| (load average 1 min at the end) | | | | | {os.getloadavg()[0]:.1f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
