from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from distillguard.watermark import stats


def test_binomial_pvalue_exact_small_case() -> None:
    # P(X >= 3) for Binomial(3, 0.5) = 1/8
    assert stats.binomial_pvalue(3, 3, 0.5) == 0.125
    assert stats.binomial_pvalue(0, 10, 0.25) == 1.0
    assert stats.binomial_pvalue(0, 0, 0.25) == 1.0


@given(st.lists(st.floats(0.05, 0.95), min_size=1, max_size=30), st.integers(0, 30))
@settings(max_examples=50, deadline=None)
def test_poisson_binomial_reduces_to_binomial_and_bounds(ps: list[float], k: int) -> None:
    p = stats.poisson_binomial_pvalue(k, ps)
    assert 0.0 <= p <= 1.0
    same = [ps[0]] * len(ps)
    assert (
        abs(stats.poisson_binomial_pvalue(k, same) - stats.binomial_pvalue(k, len(ps), ps[0]))
        < 1e-9
    )


def test_fisher_and_stouffer_agree_with_scipy() -> None:
    ps = [0.01, 0.2, 0.5, 0.03]
    assert abs(stats.fisher_combine(ps) - sps.combine_pvalues(ps, method="fisher").pvalue) < 1e-12
    assert (
        abs(stats.stouffer_combine(ps) - sps.combine_pvalues(ps, method="stouffer").pvalue) < 1e-9
    )


def test_holm_bh_bonferroni_known_values() -> None:
    ps = [0.01, 0.04, 0.03, 0.5]
    assert stats.bonferroni(ps) == [0.04, 0.16, 0.12, 1.0]
    assert np.allclose(stats.holm(ps), [0.04, 0.09, 0.09, 0.5])
    assert np.allclose(stats.benjamini_hochberg(ps), [0.04, 0.05333333, 0.05333333, 0.5])


@given(st.lists(st.floats(1e-12, 1.0), min_size=1, max_size=40))
def test_adjustments_never_below_raw_and_ordered(ps: list[float]) -> None:
    for adj in (stats.bonferroni(ps), stats.holm(ps), stats.benjamini_hochberg(ps)):
        assert all(a >= p - 1e-15 and a <= 1.0 for a, p in zip(adj, ps, strict=True))
    b, h, q = stats.bonferroni(ps), stats.holm(ps), stats.benjamini_hochberg(ps)
    assert all(hh <= bb + 1e-15 and qq <= hh + 1e-15 for bb, hh, qq in zip(b, h, q, strict=True))
