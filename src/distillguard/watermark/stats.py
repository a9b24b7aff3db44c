"""Exact tests and multiple-testing corrections used by every detector.

All p-values are one-sided ("more watermark signal than chance"). Tails are computed exactly
(binomial survival function, Poisson-binomial convolution) rather than from a normal
approximation; z-scores are reported alongside for readers used to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from distillguard.errors import WatermarkError


def binomial_pvalue(successes: int, trials: int, p: float) -> float:
    """Exact one-sided P(X >= successes) for X ~ Binomial(trials, p); 1.0 when trials == 0."""
    if trials <= 0:
        return 1.0
    if not 0.0 < p < 1.0:
        raise WatermarkError(f"null success probability must be in (0, 1), got {p}")
    return float(sps.binom.sf(successes - 1, trials, p))


def binomial_randomized_pvalue(successes: int, trials: int, p: float, u: float) -> float:
    """Randomised exact p-value ``P(X > k) + u * P(X = k)``, Uniform(0, 1) under the null.

    The plain exact p-value of a discrete test is conservative (P(p <= a) <= a, not = a), so
    a KS test of uniformity on many of them rejects even when the detector is calibrated.
    Calibration controls therefore use this randomised version with a seeded ``u``.
    """
    if trials <= 0:
        return u
    return float(sps.binom.sf(successes, trials, p) + u * sps.binom.pmf(successes, trials, p))


def binomial_z(successes: int, trials: int, p: float) -> float:
    """Normal-approximation z-score of a binomial count (0.0 when trials == 0)."""
    if trials <= 0:
        return 0.0
    return (successes - p * trials) / math.sqrt(trials * p * (1.0 - p))


def poisson_binomial_pvalue(successes: int, probs: Sequence[float] | np.ndarray) -> float:
    """Exact P(X >= successes) for a sum of independent Bernoulli(probs[i]).

    Computed by direct convolution of the probability mass function (O(n^2), fine for the
    few thousand trials a text-level detector sees).
    """
    ps = np.asarray(probs, dtype=np.float64)
    if ps.size == 0:
        return 1.0
    pmf = np.zeros(ps.size + 1)
    pmf[0] = 1.0
    for i, q in enumerate(ps):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1.0 - q) + pmf[0 : i + 1] * q
        pmf[0] *= 1.0 - q
    tail = float(pmf[max(successes, 0) :].sum())
    return min(1.0, max(tail, 0.0))


def fisher_combine(pvalues: Sequence[float]) -> float:
    """Fisher's method: combine independent p-values into one."""
    ps = np.clip(np.asarray(pvalues, dtype=np.float64), 1e-300, 1.0)
    if ps.size == 0:
        return 1.0
    stat = -2.0 * float(np.log(ps).sum())
    return float(sps.chi2.sf(stat, 2 * ps.size))


def stouffer_combine(pvalues: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Stouffer's weighted Z method (weights e.g. sqrt of tokens scored)."""
    ps = np.clip(np.asarray(pvalues, dtype=np.float64), 1e-300, 1.0 - 1e-16)
    if ps.size == 0:
        return 1.0
    w = np.ones_like(ps) if weights is None else np.asarray(weights, dtype=np.float64)
    z = sps.norm.isf(ps)
    return float(sps.norm.sf(float((w * z).sum()) / math.sqrt(float((w * w).sum()))))


def bonferroni(pvalues: Sequence[float]) -> list[float]:
    """Bonferroni-adjusted p-values (family-wise error control)."""
    m = len(pvalues)
    return [min(1.0, p * m) for p in pvalues]


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error, uniformly more powerful)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values (false-discovery-rate control)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i], reverse=True)
    adjusted = [1.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def ks_uniform(pvalues: Sequence[float]) -> float:
    """Kolmogorov-Smirnov p-value of the hypothesis that ``pvalues`` are Uniform(0, 1)."""
    if len(pvalues) == 0:
        raise WatermarkError("KS test needs at least one p-value")
    return float(sps.kstest(np.asarray(pvalues, dtype=np.float64), "uniform").pvalue)
