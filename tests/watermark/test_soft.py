"""Soft open-mode score: bound exactness, calibration under H0, power, filters, edge cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from distillguard.errors import WatermarkError
from distillguard.watermark import stats
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.kgw import KGWParams, green_of_vocab
from distillguard.watermark.soft import (
    ChernoffTail,
    SoftGreenTest,
    WindowMassAccumulator,
    WindowMasses,
    soft_audit,
    soft_statistic,
)

GAMMA = 0.25


def _ring(n: int, prefix: str = "k") -> KeyRing:
    return KeyRing.derive(MasterSecret(b"S" * 32), [f"cohort:{prefix}{i}" for i in range(n)], "kgw")


def _masses(rng: np.random.Generator, n: int, vocab: int, alpha: float = 0.3) -> WindowMasses:
    windows = rng.choice(10**6, size=n, replace=False).astype(np.int64)[:, None]
    mass = rng.dirichlet(np.full(vocab, alpha), size=n)
    return WindowMasses(windows, mass, np.ones(n, np.int64), n, 1)


def test_chernoff_bound_dominates_the_exact_tail_and_bernstein() -> None:
    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(11)) * 0.9 + rng.random(11) * 0.1
    tail = ChernoffTail(a, GAMMA)
    outcomes = np.array(list(itertools.product([0, 1], repeat=a.size)), dtype=np.float64)
    prob = np.prod(np.where(outcomes == 1, GAMMA, 1 - GAMMA), axis=1)
    t_all = outcomes @ a - GAMMA * a.sum()
    var = GAMMA * (1 - GAMMA) * float(np.square(a).sum())
    b = (1 - GAMMA) * a.max()
    checked = 0
    for t in np.unique(t_all)[::4]:
        exact = float(prob[t_all >= t - 1e-12].sum())
        bound = tail.pvalue(float(t))
        assert exact <= bound + 1e-12, (t, exact, bound)
        if t > 0:
            bernstein = math.exp(-(t**2) / 2 / (var + b * t / 3))
            assert bound <= bernstein * (1 + 1e-3)  # weights rounded up by <= 1 %
            checked += 1
    assert checked > 50
    assert tail.pvalue(0.0) == 1.0 and tail.pvalue(-1.0) == 1.0
    # at the largest attainable value the bound approaches P(all green) = gamma**n
    assert tail.pvalue((1 - GAMMA) * float(a.sum())) <= GAMMA**a.size * 10


def test_null_mean_variance_and_calibration_over_many_keys() -> None:
    rng = np.random.default_rng(2)
    test = SoftGreenTest(_masses(rng, 300, 128), KGWParams(gamma=GAMMA))
    dets = test.test_many(_ring(400).keys)
    z = np.array([d.z for d in dets])
    assert abs(z.mean()) < 4 / math.sqrt(z.size)
    assert 0.8 < z.var() < 1.2
    assert stats.ks_uniform([d.p_normal for d in dets]) > 1e-3
    rigorous = np.array([d.p_value for d in dets])
    for alpha in (0.05, 0.01):
        bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / rigorous.size)
        assert np.mean(rigorous <= alpha) <= bound
    assert all(d.p_value >= d.p_normal * 0.99 or d.p_value == 1.0 for d in dets)


def test_power_on_a_model_shifted_towards_green() -> None:
    rng = np.random.default_rng(3)
    base = _masses(rng, 400, 256, alpha=0.5)
    true = _ring(1, "true").keys[0]
    params = KGWParams(gamma=GAMMA)
    green = SoftGreenTest(base, params).green(true, slice(None))
    tilted = base.mass * np.exp(0.15 * green)
    tilted /= tilted.sum(axis=1, keepdims=True)
    shifted = WindowMasses(base.windows, tilted, base.counts, 400, 1)
    res = soft_audit(shifted, KeyRing((true,)), _ring(100, "ctl"), params)
    assert res.tested[0].p_value < 1e-6
    assert res.tested[0].green_mass > GAMMA + 0.01
    assert res.matches == ("cohort:true0",)
    assert min(d.p_value for d in res.control) > 1e-4
    assert res.control_ks() > 1e-3
    d = res.to_dict()
    assert d["matches"] == ["cohort:true0"] and len(d["control"]) == 100


@pytest.mark.parametrize("h", [1, 2])
def test_window_green_lists_match_the_generator(h: int) -> None:
    rng = np.random.default_rng(4)
    key = _ring(1).keys[0]
    params = KGWParams(gamma=GAMMA, context_width=h)
    windows = rng.integers(0, 500, size=(5, h)).astype(np.int64)
    masses = WindowMasses(windows, np.full((5, 500), 1 / 500), np.ones(5, np.int64), 5, 1)
    got = SoftGreenTest(masses, params).green(key, slice(None))
    for i in range(5):
        want = green_of_vocab(windows[i].astype(np.uint64), 500, key, params)
        assert np.array_equal(got[i], want)


def test_accumulator_skips_prompt_and_repeated_windows_and_averages() -> None:
    acc = WindowMassAccumulator(vocab_size=10, context_width=1)
    ids = np.array([5, 6, 7, 8, 7, 9, 7], dtype=np.int64)
    probs = np.eye(10)[[1, 2, 3, 4, 5, 6]]  # row i is "the distribution" after ids[i]
    acc.add(ids, probs, start=2)
    m = acc.result()
    # positions 2..6; windows 6, 7, 8, (7 repeated: skipped), 9
    assert [int(w) for w in m.windows[:, 0]] == [6, 7, 8, 9]
    assert m.positions_seen == 5 and m.positions_used == 4
    assert np.array_equal(m.mass[1], np.eye(10)[3])  # window 7: first occurrence only
    acc.add(np.array([0, 7, 2], dtype=np.int64), np.eye(10)[[0, 9]], start=1)
    m = acc.result()
    assert m.documents == 2
    row = [int(w) for w in m.windows[:, 0]].index(7)
    assert m.counts[row] == 2
    assert np.allclose(m.mass[row], (np.eye(10)[3] + np.eye(10)[9]) / 2)


def test_accumulator_errors_name_the_document() -> None:
    acc = WindowMassAccumulator(vocab_size=10, context_width=1)
    acc.add(np.array([1, 2], dtype=np.int64), np.eye(10)[[0]], start=1)
    with pytest.raises(WatermarkError, match="document 1"):
        acc.add(np.array([1, 2, 3], dtype=np.int64), np.eye(10)[[0]], start=1)
    with pytest.raises(WatermarkError, match="context_width"):
        WindowMassAccumulator(vocab_size=10, context_width=0)


def test_too_few_windows_is_insufficient_and_empty_is_p_one() -> None:
    rng = np.random.default_rng(5)
    key = _ring(1).keys[0]
    few = SoftGreenTest(_masses(rng, 10, 64), KGWParams(gamma=GAMMA)).test(key)
    assert few.insufficient and "only 10 unique windows" in few.note
    assert not few.significant(1.0)
    empty = WindowMassAccumulator(64, 1).result()
    res = SoftGreenTest(empty, KGWParams(gamma=GAMMA)).test(key)
    assert res.p_value == 1.0 and res.windows == 0 and res.insufficient
    assert "no window" in res.note


def test_rejects_parameters_whose_green_lists_are_shared() -> None:
    m = WindowMassAccumulator(8, 1).result()
    with pytest.raises(WatermarkError, match="left seeding"):
        SoftGreenTest(m, KGWParams(seeding="self"))
    with pytest.raises(WatermarkError, match="left seeding"):
        SoftGreenTest(m, KGWParams(context_width=0))
    with pytest.raises(WatermarkError, match="h=1"):
        SoftGreenTest(m, KGWParams(context_width=2))
    with pytest.raises(WatermarkError, match="probabilities"):
        ChernoffTail(np.array([0.5, 1.5]), GAMMA)


def test_soft_statistic_is_green_mass_minus_gamma() -> None:
    mass = np.array([[0.5, 0.5], [1.0, 0.0]])
    green = np.array([[True, False], [True, False]])
    t, var = soft_statistic(mass, green, GAMMA)
    assert t == pytest.approx(1.5 - GAMMA * 2)
    assert var == pytest.approx(GAMMA * (1 - GAMMA) * 1.5)


def test_open_audit_soft_score_on_the_tiny_lm(tiny_lm, master) -> None:
    import torch

    from distillguard.watermark.audit import control_ring, open_audit
    from distillguard.watermark.models import generate, next_token_argmax, next_token_probs
    from distillguard.watermark.processors import KGWLogitsProcessor

    tok = tiny_lm.tokenizer
    ring = KeyRing.derive(
        master, [f"cohort:c{i}" for i in range(3)], "kgw", tokenizer_fingerprint=tok.fingerprint
    )
    prompts = [
        f"Question: Tom has {i} apples and buys {i + 3} more. How many?\nAnswer:" for i in range(8)
    ]
    served = generate(
        tiny_lm,
        prompts,
        processors=[KGWLogitsProcessor(ring.keys[1], tiny_lm.vocab_size)],
        max_new_tokens=60,
        min_new_tokens=60,
        seed=7,
    )
    p_ids = [tok.encode(p) for p in prompts]
    texts = [np.asarray(p + s, dtype=np.int64) for p, s in zip(p_ids, served, strict=True)]
    green_bias = KGWLogitsProcessor(ring.keys[1], tiny_lm.vocab_size, KGWParams(delta=0.5))
    cold = WindowMassAccumulator(tiny_lm.vocab_size, 1)
    hot = WindowMassAccumulator(tiny_lm.vocab_size, 1)
    for t, p in zip(texts, p_ids, strict=True):
        probs = next_token_probs(tiny_lm, t)
        assert probs.shape == (t.size - 1, tiny_lm.vocab_size)
        assert np.allclose(probs.sum(axis=1), 1.0)
        assert np.array_equal(probs.argmax(axis=1), next_token_argmax(tiny_lm, [t])[0])
        cold.add(t, probs, len(p))
        # a weakly radioactive stand-in: the same weights plus a small green bias
        x = torch.from_numpy(t)[None, :]
        logits = torch.log(torch.from_numpy(probs))
        biased = torch.stack(
            [green_bias(x[:, : i + 1], logits[i : i + 1])[0] for i in range(t.size - 1)]
        )
        hot.add(t, torch.softmax(biased, -1).numpy(), len(p))
    ctrl = control_ring(master, "kgw", 20, tok.fingerprint)
    preds = next_token_argmax(tiny_lm, texts)
    clean = open_audit("clean", texts, preds, ring, ctrl, tok, masses=cold.result())
    assert clean.soft is not None and clean.soft.matches == ()
    assert clean.soft.tested[1].windows > 100
    assert clean.soft.tested[1].positions_used < clean.soft.tested[1].positions_seen
    marked = open_audit("hot", texts, preds, ring, ctrl, tok, masses=hot.result())
    assert marked.soft is not None and marked.soft.matches == ("cohort:c1",)
    assert marked.to_dict()["soft"]["matches"] == ["cohort:c1"]
