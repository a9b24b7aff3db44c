"""Fit the account-score weights on some scenarios and seeds, check them on others.

Usage: .venv/bin/python benchmarks/calibrate_detect.py [--scale 0.05]
       [--train demo-week,slow-and-low,...] [--test reseller-mix,...] [--seeds 7,11]
       [--privacy]

Each scenario is simulated and scanned once per seed; the score terms of every account
(``distillguard.detect.scoring.account_terms`` plus the fired rules' level weights) become a
row, the label is "in a campaign". Allow-listed accounts are left out (they behave like a
campaign by contract). A logistic regression (L2, C=1) is fitted on the TRAIN scenarios of
the FIRST seed; the table reports ROC AUC and the share of campaign accounts scoring above
the 99.9th percentile of legitimate accounts (recall at 0.1 % FPR) on train and on the TEST
scenarios of EVERY seed, for the fitted weights and for the weights shipped in
``scoring.ACCOUNT_WEIGHTS``. Prints one table, then the fitted weights as a Python dict.

With ``--privacy`` the events are scanned without prompt text (``scan --no-text``: digests
only, as ``distillguard ingest`` stores by default), in privacy mode, and the weights are
fitted and compared with ``scoring.PRIVACY_WEIGHTS``: the model a scan uses when the store
holds no prompt text.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.detect.evaluate import read_labels
from distillguard.detect.ruleset import load_rules
from distillguard.detect.scan import run_scan
from distillguard.detect.scoring import ACCOUNT_WEIGHTS, PRIVACY_WEIGHTS, account_terms
from distillguard.sim import load_scenario, simulate

TRAIN = ("demo-week", "slow-and-low", "paraphrase", "eval-harness", "licensed")
TEST = ("reseller-mix", "enterprise-reuse", "hydra-release", "small-in-large")
SMALLER = {"small-in-large": 0.2, "hydra-release": 0.5}
#: Terms left out of the fit: ``high_effort`` because in the simulator only campaigns ask for
#: high reasoning effort (an artefact of the generator, not a property of the tactic), and
#: ``rules`` because rules restate the features (collinear); rules keep a fixed small weight.
EXCLUDED = ("high_effort", "rules")
#: ... and in text mode ``fresh_cap`` (privacy mode's harvest term); in privacy mode ``cap``,
#: which weighs an evaluation harness re-running its benchmark at the cap like a harvester.
MODE_EXCLUDED = {False: ("fresh_cap",), True: ("cap",)}
#: Terms allowed a negative weight (evidence of legitimate use); any other term whose fitted
#: weight comes out negative is dropped and the model refitted, so every reason shown to a
#: reviewer pushes risk up.
MAY_BE_NEGATIVE = ("repeats",)


def _rows(
    name: str, seed: int, scale: float, tmp: Path, cache: Path | None, privacy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    import duckdb

    mode = "-privacy" if privacy else ""
    cached = cache / f"{name}-{seed}-{scale}{mode}.npz" if cache else None
    if cached is not None and cached.exists():
        z = np.load(cached)
        return z["x"], z["y"]
    work = tmp / f"{name}-{seed}"
    sim = simulate(
        load_scenario(name), work / "sim", seed=seed, scale=scale * SMALLER.get(name, 1.0)
    )
    allowed = {
        e["org_id"]
        for e in json.loads(sim.manifest_path.read_text()).get("allow_list", [])
        if e.get("org_id")
    }
    res = run_scan([sim.events_path], work / "scan", keep_text=not privacy)
    labels = read_labels(sim.labels_path)
    rules = load_rules()
    con = duckdb.connect(str(res.db), read_only=True)
    try:
        feats = con.sql("SELECT * FROM account_features").to_arrow_table().to_pylist()
    finally:
        con.close()
    xs, ys = [], []
    for row in feats:
        if row.get("org_id") in allowed:
            continue
        terms = account_terms(row)
        terms["rules"] = sum(r.weight for r in rules if r.matches(row))
        xs.append([terms[k] for k in sorted(terms)])
        ys.append(1 if labels.get(str(row["account_id"])) else 0)
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.int64)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, x=x, y=y)
    return x, y


def _fit(
    x: np.ndarray, y: np.ndarray, names: list[str], privacy: bool = False, c: float = 1.0
) -> tuple[float, np.ndarray]:
    """L2 logistic regression; terms with a wrong-signed weight are dropped and it is refit."""
    from sklearn.linear_model import LogisticRegression

    skip = (*EXCLUDED, *MODE_EXCLUDED[privacy])
    use = [i for i, n in enumerate(names) if n not in skip]
    while True:
        model = LogisticRegression(C=c, max_iter=5000).fit(x[:, use], y)
        coef = model.coef_[0]
        bad = [
            u for u, c in zip(use, coef, strict=True) if c < 0 and names[u] not in MAY_BE_NEGATIVE
        ]
        if not bad:
            break
        use = [u for u in use if u not in bad]
    w = np.zeros(len(names))
    w[use] = coef
    return float(model.intercept_[0]), w


def _names() -> list[str]:
    t = account_terms({"n_events": 1})
    t["rules"] = 0.0
    return sorted(t)


def _quality(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    if y.min() == y.max():
        return float("nan"), float("nan")
    cut = np.quantile(z[y == 0], 0.999)
    return float(roc_auc_score(y, z)), float((z[y == 1] > cut).mean())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--train", default=",".join(TRAIN))
    ap.add_argument("--test", default=",".join(TEST))
    ap.add_argument("--seeds", default="7,11")
    ap.add_argument("--cache", type=Path, default=None, help="keep per-scenario rows here")
    ap.add_argument("--privacy", action="store_true", help="fit the no-prompt-text model")
    ap.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (default 1)")
    args = ap.parse_args()

    seeds = [int(s) for s in args.seeds.split(",")]
    names = _names()
    ref = PRIVACY_WEIGHTS if args.privacy else ACCOUNT_WEIGHTS
    shipped = np.array([ref.get(k, 0.0) for k in names])
    data: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="dg-calib-") as tmp:
        for seed in seeds:
            for name in [*args.train.split(","), *args.test.split(",")]:
                data[(name, seed)] = _rows(
                    name, seed, args.scale, Path(tmp), args.cache, args.privacy
                )
    train = [data[(n, seeds[0])] for n in args.train.split(",")]
    x = np.vstack([d[0] for d in train])
    y = np.concatenate([d[1] for d in train])
    bias, fitted = _fit(x, y, names, args.privacy, args.C)
    print(f"scale {args.scale}; fitted on {args.train} seed {seeds[0]} ({len(y)} accounts)")
    print(
        f"{'scenario':18} {'seed':>4} {'split':>5} {'AUC fit':>8} {'R@.1% fit':>9} "
        f"{'AUC ship':>8} {'R@.1% ship':>10}"
    )
    for (name, seed), (xs, ys) in data.items():
        split = "train" if name in args.train.split(",") and seed == seeds[0] else "test"
        af, rf = _quality(xs @ fitted + bias, ys)
        ash, rsh = _quality(xs @ shipped, ys)
        print(f"{name:18} {seed:>4} {split:>5} {af:>8.4f} {rf:>9.3f} {ash:>8.4f} {rsh:>10.3f}")
    out: dict[str, Any] = {"bias": round(bias, 2)}
    out.update({k: round(float(w), 2) for k, w in zip(names, fitted, strict=True)})
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
