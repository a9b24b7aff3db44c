"""Template families: one wrapper = one family, across payloads, paraphrases and batches."""

from __future__ import annotations

import random

import numpy as np

from distillguard.detect.signals.text import tokenize
from distillguard.detect.templates import (
    FamilyIndex,
    ShingleCounter,
    TemplateConfig,
    assign_families,
    minhash,
)

_WORDS = [
    "apple", "river", "engine", "quiet", "purple", "ladder", "garden", "silver", "market",
    "planet", "window", "coffee", "rocket", "tiger", "lemon", "castle", "violin", "pencil",
    "harbor", "desert", "cloud", "marble", "forest", "candle", "bridge", "pepper", "falcon",
    "mirror", "velvet", "anchor", "meadow", "lantern", "glacier", "orchid", "canyon", "saddle",
]  # fmt: skip


def _payloads(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(12)) + "?" for _ in range(n)]


WRAP_A = "Show your full reasoning step by step before giving the final answer on the last line."
PARA_A = [
    WRAP_A,
    "show your FULL reasoning, step by step, before giving the final answer on the last line!",
    "Please show your full reasoning step by step before giving the final answer on the last line.",
    "Show your full reasoning step-by-step before you give the final answer on the last line.",
]
WRAP_B = "Grade the following answer on a scale of 1 to 10 for correctness. Output only the score."


def test_one_wrapper_many_payloads_is_one_family() -> None:
    fam = assign_families([f"{WRAP_A}\n\n{p}" for p in _payloads(1, 60)])
    assert (fam >= 0).all() and len(set(fam.tolist())) == 1


def test_wrapper_before_or_after_payload_is_one_family() -> None:
    ps = _payloads(2, 60)
    prompts = [f"{WRAP_A} {p}" if i % 2 else f"{p}\n{WRAP_A}" for i, p in enumerate(ps)]
    fam = assign_families(prompts)
    assert (fam >= 0).all() and len(set(fam.tolist())) == 1


def test_light_paraphrases_join_one_family() -> None:
    rng = random.Random(3)
    prompts = [f"{rng.choice(PARA_A)}\n\n{p}" for p in _payloads(3, 120)]
    fam = assign_families(prompts)
    assert (fam >= 0).all() and len(set(fam.tolist())) == 1


def test_two_wrappers_and_unrelated_prompts_do_not_merge() -> None:
    a = [f"{WRAP_A}\n\n{p}" for p in _payloads(4, 50)]
    b = [f"{p}\n\n{WRAP_B}" for p in _payloads(5, 50)]
    legit = _payloads(6, 80)
    fam = assign_families(a + b + legit)
    fa, fb, fl = fam[:50], fam[50:100], fam[100:]
    assert len(set(fa.tolist())) == 1 and len(set(fb.tolist())) == 1
    assert fa[0] != fb[0] and fa[0] >= 0 and fb[0] >= 0
    assert (fl == -1).mean() >= 0.95


def test_families_are_consistent_across_batches() -> None:
    rng = random.Random(7)
    prompts = [f"{rng.choice(PARA_A)}\n\n{p}" for p in _payloads(7, 90)]
    prompts += [f"{p}\n\n{WRAP_B}" for p in _payloads(8, 90)]
    rng.shuffle(prompts)
    cfg = TemplateConfig()
    counter = ShingleCounter(cfg)
    batches = [tokenize(prompts[i : i + 25]) for i in range(0, len(prompts), 25)]
    for b in batches:
        counter.update(b)
    index = FamilyIndex(counter)
    prov = np.concatenate([index.assign(b) for b in batches])
    fam = index.resolve(prov)
    one = assign_families(prompts, cfg)
    # same partition whether the prompts arrive at once or in batches
    pairs = {(int(x), int(y)) for x, y in zip(fam, one, strict=True)}
    assert len(pairs) == len(set(fam.tolist())) == len(set(one.tolist())) == 2


def test_single_prompts_have_no_family() -> None:
    fam = assign_families([WRAP_A + " " + _payloads(9, 1)[0], "hello there", None])
    assert fam.tolist() == [-1, -1, -1]


def test_minhash_estimates_jaccard() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**40, 200, dtype=np.uint64)
    other = np.concatenate([base[:100], rng.integers(0, 2**40, 100, dtype=np.uint64)])
    h = np.concatenate([np.sort(base), np.sort(other)])
    parent = np.repeat(np.arange(2), 200)
    sig = minhash(h, parent, 2, 256, 1)
    est = float((sig[0] == sig[1]).mean())
    assert abs(est - 100 / 300) < 0.1


HEAVY_A = [
    "Show your full reasoning step by step before giving the final answer.",
    "Before you give the final answer, lay out all of your reasoning, step by step, in full.",
    "Step by step: write your full reasoning first; the final answer comes after it.",
    "Give the final answer only after showing your full reasoning step by step.",
]
HEAVY_B = [
    "Grade the following answer on a scale of 1 to 10 for correctness. Output only the score.",
    "Output only a score from 1 to 10: how correct is the following answer? Grade it.",
    "On a 1-10 scale, grade the correctness of the following answer; output the score only.",
]


def _heavy(seed: int, wraps: list[str], n_each: int) -> list[str]:
    ps = _payloads(seed, n_each * len(wraps))
    return [f"{wraps[i % len(wraps)]}\n\n{p}" for i, p in enumerate(ps)]


def test_heavy_paraphrases_join_one_family_only_with_the_vocabulary_key() -> None:
    prompts = _heavy(11, HEAVY_A, 30)
    strict = assign_families(prompts, TemplateConfig(paraphrase_threshold=0.0))
    tolerant = assign_families(prompts)
    assert (strict >= 0).all() and len(set(strict.tolist())) > 1  # shingles alone split them
    assert (tolerant >= 0).all() and len(set(tolerant.tolist())) == 1


def test_paraphrase_key_does_not_merge_unrelated_wrappers_or_payloads() -> None:
    a = _heavy(12, HEAVY_A, 25)
    b = _heavy(13, HEAVY_B, 25)
    legit = _payloads(14, 100)
    fam = assign_families(a + b + legit)
    fa, fb, fl = fam[: len(a)], fam[len(a) : len(a) + len(b)], fam[len(a) + len(b) :]
    assert len(set(fa.tolist())) == 1 and len(set(fb.tolist())) == 1 and fa[0] != fb[0]
    assert (fl == -1).mean() >= 0.95
