"""Train the per-request signal models and write them into the package.

Usage::

    .venv/bin/python scripts/train_signals.py [--data ../shared/data] [--out DIR] [--quick]
                                             [--seed 0] [--eval-json FILE]

For each signal: build examples (real corpora + generated wrappers, see
``distillguard.detect.signals.corpus``), fit a logistic regression (scikit-learn, training
time only) on the training split, measure precision and recall on the held-out split (whole
payload corpora, whole wrapper styles and the real attack corpora are held out), then refit on
everything and save ``<out>/<signal>.npz`` with the held-out numbers in its metadata.
Deterministic for a given seed. ``--quick`` uses few examples (for the test suite).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from distillguard.detect.signals import corpus  # noqa: E402
from distillguard.detect.signals.cues import cue_table  # noqa: E402
from distillguard.detect.signals.model import (  # noqa: E402
    DEFAULT_DIM,
    DEFAULT_TF,
    NORM_TOKENS,
    LinearModel,
    artefact_path,
    featurize,
)
from distillguard.detect.signals.registry import SIGNALS  # noqa: E402
from distillguard.detect.signals.text import tokenize  # noqa: E402


def _matrix(
    texts: list[str], tools: list[int], phrases: tuple[str, ...], dim: int
) -> sparse.csr_matrix:
    cues = cue_table(phrases)
    f = featurize(tokenize(texts, None, tools), cues, dim, NORM_TOKENS, DEFAULT_TF)
    return sparse.csr_matrix((f.val, (f.row, f.col)), shape=(f.n, f.n_cols), dtype=np.float32)


def _fit(x: sparse.csr_matrix, y: np.ndarray, c: float, seed: int) -> LogisticRegression:
    clf = LogisticRegression(
        C=c, class_weight="balanced", max_iter=2000, random_state=seed, solver="liblinear"
    )
    clf.fit(x, y)
    return clf


def _scores(clf: LogisticRegression, x: sparse.csr_matrix, y: np.ndarray) -> dict[str, float]:
    p = clf.predict_proba(x)[:, 1]
    pred = p >= 0.5
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "fpr": fp / max(int((y == 0).sum()), 1),
        "n_pos": int((y == 1).sum()),
        "n_neg": int((y == 0).sum()),
    }


def train(
    data: Path, out: Path, *, quick: bool, seed: int, c: float = 0.5
) -> dict[str, dict[str, object]]:
    """Train every signal; returns the held-out metrics per signal."""
    cor = corpus.load_corpora(data, limit=60 if quick else 0)
    exs = corpus.examples(cor, seed=seed, per_style=40 if quick else 500)
    dim = (1 << 14) if quick else DEFAULT_DIM
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict[str, object]] = {}
    for name, signal in SIGNALS.items():
        phrases = tuple(getattr(signal, "CUES", ()))
        rows = [e for e in exs if e.labels[name] >= 0]
        texts = [e.text for e in rows]
        tools = [e.tool_count for e in rows]
        y = np.array([e.labels[name] for e in rows], dtype=np.int64)
        held = np.array([corpus.is_held_out(e, name) for e in rows])
        x = _matrix(texts, tools, phrases, dim)
        t0 = time.perf_counter()
        clf = _fit(x[~held], y[~held], c, seed)
        metrics: dict[str, float] = _scores(clf, x[held], y[held])
        # recall on the wrapper styles never seen in training (the generalisation figure)
        # and on the real attack corpora, each alone
        styles = set(corpus.HELD_OUT_STYLES[name])
        for key, mask in (
            ("style_recall", np.array([e.style in styles for e in rows])),
            ("attack_recall", np.array([e.style == "attack" for e in rows])),
        ):
            sub = held & mask & (y == 1)
            if sub.any():
                metrics[key] = float((clf.predict_proba(x[sub])[:, 1] >= 0.5).mean())
        final = _fit(x, y, c, seed)
        coef = final.coef_[0].astype(np.float32)
        model = LinearModel(
            name=name,
            dim=dim,
            w_hash=coef[:dim],
            cues=cue_table(phrases),
            w_cue=coef[dim:],
            bias=float(final.intercept_[0]),
            norm_tokens=NORM_TOKENS,
            tf=DEFAULT_TF,
            meta={
                "signal": name,
                "seed": seed,
                "quick": quick,
                "n_examples": len(rows),
                "held_out": metrics,
                "held_out_split": {
                    "payload_corpora": list(corpus.TEST_PAYLOADS),
                    "wrapper_styles": list(corpus.HELD_OUT_STYLES[name]),
                    "attack_corpora": ["tt_extraction", "tt_hijacking"],
                },
            },
        )
        model.save(out / f"{name}.npz")
        report[name] = {**metrics, "train_s": round(time.perf_counter() - t0, 1)}
        print(
            f"{name:18s} P={metrics['precision']:.3f} R={metrics['recall']:.3f} "
            f"FPR={metrics['fpr']:.3f} pos={metrics['n_pos']} neg={metrics['n_neg']}"
        )
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=artefact_path("x").parent)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-json", type=Path, default=None)
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: {args.data}: corpora directory not found", file=sys.stderr)
        return 2
    report = train(args.data, args.out, quick=args.quick, seed=args.seed)
    if args.eval_json:
        args.eval_json.write_text(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
