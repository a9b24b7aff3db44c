from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import WatermarkError
from distillguard.watermark import hashing, stats
from distillguard.watermark.base import correct
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.kgw import (
    KGWDetector,
    KGWParams,
    UnigramDetector,
    green_of_sequence,
    green_of_vocab,
)

V = 512
MASTER = MasterSecret(b"m" * 32)


def sample_marked(key, params: KGWParams, n: int, seed: int, vocab: int = V) -> np.ndarray:
    """Stand-in sampler: Zipf-like logits plus the KGW bias (the generator logic, no model)."""
    rng = np.random.default_rng(seed)
    base = -np.log(np.arange(1, vocab + 1)) * 0.8
    ids = list(rng.integers(0, vocab, max(params.context_width, 1)))
    for _ in range(n):
        window = hashing.as_words(ids[-params.context_width :] if params.context_width else [])
        logits = base + params.delta * green_of_vocab(window, vocab, key, params)
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(vocab, p=p / p.sum())))
    return np.asarray(ids, dtype=np.int64)


@given(
    ids=st.lists(st.integers(0, V - 1), min_size=1, max_size=60),
    h=st.integers(0, 4),
    seeding=st.sampled_from(["left", "self"]),
)
@settings(max_examples=60, deadline=None)
def test_sequence_and_vocab_green_lists_agree(ids: list[int], h: int, seeding: str) -> None:
    if seeding == "self" and h == 0:
        h = 1
    params = KGWParams(context_width=h, seeding=seeding)  # type: ignore[arg-type]
    key = MASTER.derive("a", "kgw")
    words = hashing.as_words(ids)
    seq = green_of_sequence(words, key, params)
    for i in range(h, len(ids)):
        assert green_of_vocab(words[i - h : i], V, key, params)[ids[i]] == seq[i - h]


@pytest.mark.parametrize(("h", "seeding"), [(1, "left"), (4, "left"), (2, "self"), (0, "left")])
def test_marked_text_detected_and_wrong_key_not(h: int, seeding: str) -> None:
    params = KGWParams(gamma=0.25, delta=2.0, context_width=h, seeding=seeding)  # type: ignore[arg-type]
    key = MASTER.derive("a", "kgw")
    ids = sample_marked(key, params, 200, seed=h)
    det = (UnigramDetector if h == 0 else KGWDetector)(key, params=params)
    r = det.detect(ids)
    assert r.p_value < 1e-6 and r.green_fraction > 0.5 and not r.insufficient
    other = (UnigramDetector if h == 0 else KGWDetector)(MASTER.derive("b", "kgw"), params=params)
    assert other.detect(ids).p_value > 1e-3


@given(seed=st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_watermark_p_value_is_tiny_for_any_seed(seed: int) -> None:
    key = MASTER.derive(f"s{seed}", "kgw")
    params = KGWParams(delta=4.0)
    r = KGWDetector(key, params=params).detect(sample_marked(key, params, 150, seed))
    assert r.p_value < 1e-8


def test_clean_text_p_values_uniform_across_keys() -> None:
    rng = np.random.default_rng(7)
    ids = rng.zipf(1.3, 400) % V
    u = rng.random(400)
    dets = [KGWDetector(MASTER.derive(f"k{i}", "kgw")).detect(ids) for i in range(400)]
    assert stats.ks_uniform([d.randomized_p(x) for d, x in zip(dets, u, strict=True)]) > 0.01
    raw = np.array([d.p_value for d in dets])
    for alpha in (0.01, 0.05, 0.2):  # the exact test is conservative: P(p <= a) <= a
        assert (raw <= alpha).mean() <= alpha + 3 * np.sqrt(alpha / len(raw))


def test_unique_tuples_only_repeated_text_counts_once() -> None:
    key = MASTER.derive("a", "kgw")
    ids = sample_marked(key, KGWParams(), 60, seed=1)
    det = KGWDetector(key)
    once, thrice = det.detect(ids), det.detect(np.concatenate([ids, ids, ids]))
    assert thrice.tokens_seen == 3 * once.tokens_seen
    assert thrice.tokens_scored <= once.tokens_scored + 2  # only the two seams add tuples
    assert thrice.p_value >= once.p_value * 1e-2


def test_prompt_windows_excluded() -> None:
    key = MASTER.derive("a", "kgw")
    ids = sample_marked(key, KGWParams(), 100, seed=2)
    det = KGWDetector(key)
    alone = det.detect(ids)
    # the completion repeats the prompt: nothing new may be scored
    r = det.detect(ids, prompt=ids)
    assert r.tokens_seen == ids.size and r.tokens_scored <= 1
    assert r.insufficient and "unique tokens scored" in r.note
    assert alone.tokens_scored > 50


@pytest.mark.parametrize("content", [[], [5]])
def test_too_short_input_is_flagged_not_scored(content: list[int]) -> None:
    r = KGWDetector(MASTER.derive("a", "kgw"), params=KGWParams(context_width=2)).detect(content)
    assert r.tokens_scored == 0 and r.p_value == 1.0 and r.insufficient
    assert ("empty" in r.note) if not content else ("context" in r.note)


def test_text_input_needs_tokenizer() -> None:
    with pytest.raises(WatermarkError, match="needs a tokenizer"):
        KGWDetector(MASTER.derive("a", "kgw")).detect("some text")


def test_bad_params_rejected() -> None:
    with pytest.raises(WatermarkError):
        KGWParams(gamma=1.0)
    with pytest.raises(WatermarkError):
        KGWParams(context_width=0, seeding="self")
    with pytest.raises(WatermarkError):
        UnigramDetector(MASTER.derive("a", "kgw"), params=KGWParams(context_width=1))


def test_corpus_pooling_and_multi_key_names_the_cohort() -> None:
    ring = KeyRing.derive(MASTER, [f"cohort:c{i}" for i in range(20)], "kgw")
    harvested = ring.keys[7]
    docs = [sample_marked(harvested, KGWParams(), 40, seed=s) for s in range(10)]
    dets = [KGWDetector(k).detect_corpus(docs) for k in ring.keys]
    res = correct(dets, [k.scope for k in ring.keys], alpha=0.01)
    assert res.matches == ("cohort:c7",)
    assert dets[7].documents == 10 and dets[7].p_value < 1e-10
    assert res.to_dict()["keys"][7]["p_holm"] <= res.to_dict()["keys"][7]["p_bonferroni"]


def test_fisher_and_stouffer_across_documents_agree_with_pooling() -> None:
    from distillguard.watermark.base import combine_pvalues

    key = MASTER.derive("a", "kgw")
    det = KGWDetector(key)
    docs = [sample_marked(key, KGWParams(delta=1.0), 40, seed=s) for s in range(8)]
    per_doc = [det.detect(d) for d in docs]
    assert combine_pvalues(per_doc, "fisher") < 1e-6
    assert combine_pvalues(per_doc, "stouffer") < 1e-6
    assert det.detect_corpus(docs).p_value < 1e-6
    rng = np.random.default_rng(3)
    clean = [det.detect(rng.integers(0, V, 60)) for _ in range(8)]
    assert combine_pvalues(clean, "fisher") > 1e-3
    with pytest.raises(WatermarkError, match="unknown combination"):
        combine_pvalues(clean, "tippett")


@given(
    ids=st.lists(st.integers(0, 7), min_size=0, max_size=80),
    start=st.integers(0, 30),
    h=st.integers(1, 3),
)
@settings(max_examples=80, deadline=None)
def test_scoring_matches_a_naive_reference(ids: list[int], start: int, h: int) -> None:
    """Unique (window, token) tuples, prompt tuples excluded: against a plain-Python count."""
    params = KGWParams(context_width=h)
    det = KGWDetector(MASTER.derive("ref", "kgw"), params=params)
    start = min(start, len(ids))
    green = green_of_sequence(hashing.as_words(ids), det.key, params) if ids else []
    tuples = {i: tuple(ids[i - h : i + 1]) for i in range(h, len(ids))}
    prompt_t = {t for i, t in tuples.items() if i < start}
    seen: dict[tuple[int, ...], bool] = {}
    for i, t in tuples.items():
        if i >= start and t not in prompt_t and t not in seen:
            seen[t] = bool(green[i - h])
    r = det.detect(ids[start:], prompt=ids[:start])
    assert r.tokens_scored == len(seen)
    assert r.green_count == sum(seen.values())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_open_mode_ignores_predictions_copied_from_the_visible_text(seed: int) -> None:
    # A clean "model" that copies what followed the current token earlier in the text (an
    # induction head) predicts green on watermarked text: those tuples were chosen green
    # when the text was generated. They must not count as evidence against a clean model.
    params = KGWParams(gamma=0.25, delta=3.0, context_width=1)
    key = MASTER.derive(f"cohort:copy-{seed}", "kgw")
    ids = sample_marked(key, params, 1500, seed, vocab=48)
    rng = np.random.default_rng(seed)
    follower: dict[int, int] = {}
    preds = np.zeros(ids.size - 1, dtype=np.int64)
    for i in range(ids.size - 1):
        cur = int(ids[i])
        preds[i] = follower.get(cur, int(rng.integers(0, 48)))
        follower[cur] = int(ids[i + 1])
    det = KGWDetector(key, params=params)
    scores = det.score_predictions(ids, preds)
    copied = scores.in_prompt
    assert copied.sum() > 500 and scores.hits[copied].mean() > 0.5  # the bias is real
    res = det.detect_predictions([ids], [preds])
    assert res.tokens_scored > 25 and res.p_value > 1e-3
