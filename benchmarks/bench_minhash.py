"""MinHash backends on the same prompts: prompts/s and agreement of Jaccard estimates.

Usage: ``.venv/bin/python benchmarks/bench_minhash.py [--small]``. Shingles are the word
3-grams of the shared tokeniser. Backends: the multiply-shift MinHash used by
``distillguard.detect.templates`` (compiled numba kernel, and its numpy fallback), rensa
(Rust; batch digest matrix, with and without converting it to numpy), and datasketch (pure
Python). Agreement: mean absolute difference between each backend's Jaccard estimate and the
exact Jaccard on random pairs of prompts that share a wrapper. Prints one table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from distillguard.detect.signals import kernels  # noqa: E402
from distillguard.detect.signals.text import tokenize  # noqa: E402
from distillguard.detect.templates import _unique_pairs, minhash, shingles  # noqa: E402

WRAPS = [
    "Show your full reasoning step by step before giving the final answer.",
    "Please show all of your reasoning step by step before you give the final answer.",
    "Grade the following answer on a scale of 1 to 10 for correctness. Output only the score.",
]


def _prompts(n: int) -> list[str]:
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(6)) for _ in range(3000)]
    return [
        f"{rng.choice(WRAPS)} " + " ".join(rng.choice(words) for _ in range(rng.randint(15, 60)))
        for _ in range(n)
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    n = 5_000 if args.small else 50_000
    perm = 64
    prompts = _prompts(n)
    h, par = _unique_pairs(*shingles(tokenize(prompts), 3))
    offsets = np.searchsorted(par, np.arange(n + 1)).astype(np.uint64)
    sets = [h[int(offsets[i]) : int(offsets[i + 1])] for i in range(n)]
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, n, size=(2000, 2))
    exact = np.array(
        [len(np.intersect1d(sets[a], sets[b])) / max(len(np.union1d(sets[a], sets[b])), 1)
         for a, b in pairs]
    )  # fmt: skip
    rows: list[tuple[str, float, float]] = []

    def agree(sig: np.ndarray) -> float:
        est = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1)
        return float(np.abs(est - exact).mean())

    minhash(h[:10], par[:10], 1, perm, 7)  # compile (or load the cached kernel) first
    t = time.perf_counter()
    sig = minhash(h, par, n, perm, 7)
    rows.append(("numba kernel (distillguard)", n / (time.perf_counter() - t), agree(sig)))
    kernels.HAVE_NUMBA = False
    t = time.perf_counter()
    sig_np = minhash(h, par, n, perm, 7)
    rows.append(("numpy fallback (distillguard)", n / (time.perf_counter() - t), agree(sig_np)))
    kernels.HAVE_NUMBA = True
    assert np.array_equal(sig, sig_np)
    import rensa

    t = time.perf_counter()
    mat = rensa.RMinHash.digest_matrix_from_flat_token_hashes(h, offsets, perm, 7)
    dt_raw = time.perf_counter() - t
    sig_r = np.array(mat.to_rows(), dtype=np.uint32)
    dt_all = time.perf_counter() - t
    rows.append(("rensa digest matrix (sketch only)", n / dt_raw, float("nan")))
    rows.append(("rensa digest matrix + to numpy", n / dt_all, agree(sig_r)))
    import datasketch

    m = min(n, 5_000)
    t = time.perf_counter()
    ds = []
    for s in sets[:m]:
        mh = datasketch.MinHash(num_perm=perm, seed=7)
        mh.update_batch([int(x).to_bytes(8, "little") for x in s])
        ds.append(mh.hashvalues.astype(np.uint64))
    dt = time.perf_counter() - t
    ds_sig = np.array(ds)
    sub = (pairs[:, 0] < m) & (pairs[:, 1] < m)
    est = (ds_sig[pairs[sub, 0]] == ds_sig[pairs[sub, 1]]).mean(axis=1)
    rows.append(("datasketch (pure Python)", m / dt, float(np.abs(est - exact[sub]).mean())))
    print(f"{n} prompts, {perm} permutations, word 3-gram shingles, mean "
          f"{h.size / n:.0f} shingles/prompt")  # fmt: skip
    print("| backend | prompts/s | mean abs error vs exact Jaccard |")
    print("|---|---|---|")
    for name, speed, err in rows:
        print(f"| {name} | {speed:,.0f} | {'-' if np.isnan(err) else f'{err:.3f}'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
