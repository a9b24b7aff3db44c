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
