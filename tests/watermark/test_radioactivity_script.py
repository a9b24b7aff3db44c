"""The radioactivity experiment's data handling (scripts/watermark_radioactivity.py).

The experiment itself trains students for minutes and is not run here; these tests check the
parts that decide what a row means: probe prompts never leak into training, and the partial
rewrite keeps exactly the first half of each watermarked answer.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from distillguard.watermark.lexical import SynonymTable

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "watermark_radioactivity.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("watermark_radioactivity", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_prompts_are_disjoint_from_probes_and_mix_sources(
    script: ModuleType, shared_data: Path
) -> None:
    train, probes = script.load_prompts(1200, 60)
    assert len(train) == 1200 and len(probes) == 60
    assert not set(train) & set(probes)
    gsm = sum(p.startswith("Question:") for p in train)
    assert 500 < gsm < 1200  # instructions interleaved, GSM8K fills the rest
    with pytest.raises(SystemExit, match="only"):
        script.load_prompts(10**6, 60)


def test_larger_prompt_lists_extend_the_smaller_ones(script: ModuleType, shared_data: Path) -> None:
    small, probes = script.load_prompts(1200, 60)
    big, probes4 = script.load_prompts(4800, 60)
    assert big[:1200] == small and probes4 == probes
    assert not set(big) & set(probes)
    new = big[1947:]  # after the first pool: T0 templates and early GSM8K, interleaved
    assert len(set(new)) == len(new) and not set(new) & set(big[:1947])
    gsm = sum(p.startswith("Question:") and p.endswith("\nAnswer:") for p in new)
    assert 0.4 < gsm / len(new) < 0.6
    assert script.load_prompts(4800, 60) == (big, probes)  # seeded: same list every run


def test_pooled_perplexity_weights_chunks_by_tokens(script: ModuleType) -> None:
    a = {"wm": [[1] * 30], "ppl_wm": 10.0}
    b = {"wm": [[1] * 10, [2] * 20], "ppl_wm": 1000.0}
    # equal token counts: the geometric mean of the chunk perplexities
    assert abs(script._pooled_ppl([a, b], "ppl_wm") - 100.0) < 1e-9
    assert abs(script._pooled_ppl([a], "ppl_wm") - 10.0) < 1e-9


def test_rewrite_keeps_first_half_of_each_marked_answer(script: ModuleType, tiny_lm) -> None:
    prompts = ["Question: What is 2 plus 3?\nAnswer:", "Write a haiku about rain.\n"]
    wm = [list(range(100, 112)), list(range(200, 209))]
    args = argparse.Namespace(new_tokens=8, min_new_tokens=8)
    out = script.rewrite_second_half(tiny_lm, prompts, wm, [0, 1], args)
    for i in (0, 1):
        half = len(wm[i]) // 2
        assert out[i][:half] == wm[i][:half]
        assert len(out[i]) == half + 4  # new_tokens - new_tokens // 2, EOS suppressed


def test_paraphrase_changes_words_but_is_seeded(script: ModuleType) -> None:
    text = "The big dog said that the answer is quick and simple to find today"
    table = SynonymTable.default()
    a = script.paraphrase(text, random.Random(3), table)
    b = script.paraphrase(text, random.Random(3), table)
    assert a == b
    assert a != text


def test_soft_scores_row_fields_and_cache(script: ModuleType, tiny_lm, tmp_path: Path) -> None:
    import numpy as np

    from distillguard.watermark.keys import KeyRing, MasterSecret
    from distillguard.watermark.kgw import KGWParams
    from distillguard.watermark.models import generate
    from distillguard.watermark.processors import KGWLogitsProcessor

    master = MasterSecret(b"R" * 32)
    key = master.derive("cohort:harvester", "kgw")
    controls = KeyRing.derive(master, [f"cohort:c{i}" for i in range(4)], "kgw")
    prompts = ["Question: What is 2 plus 3?\nAnswer:", "Write a haiku about rain.\n"]
    outs = generate(
        tiny_lm,
        prompts,
        processors=[KGWLogitsProcessor(key, tiny_lm.vocab_size)],
        max_new_tokens=40,
        min_new_tokens=40,
        seed=1,
    )
    p_ids = [tiny_lm.tokenizer.encode(p) for p in prompts]
    texts = [np.asarray(p + o, dtype=np.int64) for p, o in zip(p_ids, outs, strict=True)]
    starts = [len(p) for p in p_ids]
    path = tmp_path / "soft.json"
    row = script.soft_scores(tiny_lm, texts, starts, [1], key, controls, KGWParams(), path)
    assert row["soft_controls"] == 4 and 0 < row["soft_windows"] < row["soft_all_windows"]
    assert 0.0 <= row["soft_p"] <= 1.0 and 0.0 <= row["soft_ctl_frac_p01"] <= 1.0
    assert script.soft_scores(tiny_lm, [], [], [], key, controls, KGWParams(), path) == row


def test_teacher_outputs_cached_per_chunk_with_the_old_key_for_chunk_0(
    script: ModuleType, tiny_lm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.watermark.keys import MasterSecret
    from distillguard.watermark.processors import KGWLogitsProcessor

    monkeypatch.setattr(script, "CHUNK", 2)
    key = MasterSecret(b"R" * 32).derive("cohort:harvester", "kgw")
    proc = KGWLogitsProcessor(key, tiny_lm.vocab_size)
    args = argparse.Namespace(
        new_tokens=6, min_new_tokens=6, delta=2.0, gamma=0.25, width=1, cache=tmp_path
    )
    prompts = ["Question: What is 2 plus 3?\nAnswer:", "Write a haiku.\n", "Name a colour.\n"]
    out = script.teacher_outputs(tiny_lm, prompts, proc, args)
    assert [len(a) for a in out["wm"]] == [6, 6, 6] and len(out["clean"]) == 3
    old_tag = script._tag(prompts[:2], 6, 6, 2.0, 0.25, 1)  # the earlier sessions' file name
    assert (tmp_path / f"teacher-{old_tag}.json").exists()
    assert len(list(tmp_path.glob("teacher-*.json"))) == 2
    first = script.teacher_outputs(tiny_lm, prompts[:2], proc, args)  # chunk 0 alone: cached
    assert first["wm"] == out["wm"][:2]
    assert out["ppl_wm"] > 1.0 and out["ppl_clean"] > 1.0
