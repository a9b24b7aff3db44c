"""Logit-level schemes for real on the shipped tiny model (few tokens, one thread)."""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.errors import WatermarkError
from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.kgw import KGWDetector, KGWParams, UnigramDetector
from distillguard.watermark.models import generate, load_model, perplexity
from distillguard.watermark.processors import KGWLogitsProcessor
from distillguard.watermark.synthid import SynthIDDetector, SynthIDEmbedder
from distillguard.watermark.tokenizer import load_tokenizer

PROMPTS = [
    "Question: A baker sells 12 loaves a day. How many loaves does she sell in a week?\nAnswer:",
    "Question: Tom has 5 apples and buys 7 more. How many apples does he have?\nAnswer:",
    "Write a short note to a colleague about the meeting tomorrow.\n",
    "Question: A train travels 60 miles per hour for 3 hours. How far does it go?\nAnswer:",
]


@pytest.mark.parametrize(
    "params",
    [KGWParams(), KGWParams(context_width=2, seeding="self"), KGWParams(context_width=0)],
    ids=["left-h1", "self-h2", "unigram"],
)
def test_kgw_processor_on_tiny_model_is_detected(tiny_lm, master: MasterSecret, params) -> None:
    key = master.derive("cohort:a", "kgw", tokenizer_fingerprint=tiny_lm.tokenizer.fingerprint)
    proc = KGWLogitsProcessor(key, tiny_lm.vocab_size, params)
    outs = generate(tiny_lm, PROMPTS, processors=[proc], max_new_tokens=120, seed=1)
    det = (UnigramDetector if params.context_width == 0 else KGWDetector)(
        key, tiny_lm.tokenizer, params
    )
    for prompt, ids in zip(PROMPTS, outs, strict=True):
        text = tiny_lm.tokenizer.decode(ids)
        r = det.detect(text, prompt=prompt)  # through text, as a detector in the field would
        assert r.tokens_scored >= 25
        assert r.p_value < 1e-4, (r, text)
    wrong = KGWDetector(master.derive("cohort:b", "kgw"), tiny_lm.tokenizer, params)
    assert wrong.detect_corpus(outs).p_value > 1e-3


def test_unwatermarked_generation_not_detected_and_quality_cost_measurable(tiny_lm, master) -> None:
    key = master.derive("cohort:a", "kgw")
    plain = generate(tiny_lm, PROMPTS, max_new_tokens=80, seed=2)
    assert KGWDetector(key).detect_corpus(plain).p_value > 1e-3
    marked = generate(
        tiny_lm,
        PROMPTS,
        processors=[KGWLogitsProcessor(key, tiny_lm.vocab_size)],
        max_new_tokens=80,
        seed=2,
    )
    prompts = [tiny_lm.tokenizer.encode(p) for p in PROMPTS]
    # the watermark costs some perplexity under the unwatermarked model, but not unboundedly
    assert perplexity(tiny_lm, marked, prompts=prompts) < 20 * perplexity(
        tiny_lm, plain, prompts=prompts
    )


def test_synthid_generation_detected_by_our_frequentist_test(tiny_lm, master) -> None:
    key = master.derive("cohort:a", "synthid", tokenizer_fingerprint=tiny_lm.tokenizer.fingerprint)
    emb = SynthIDEmbedder(key)
    outs = generate(
        tiny_lm, PROMPTS, watermarking_config=emb.watermarking_config(), max_new_tokens=120, seed=3
    )
    det = SynthIDDetector(key, tiny_lm.tokenizer)
    pooled = det.detect_corpus(outs, prompts=PROMPTS)
    assert pooled.p_value < 1e-6 and pooled.trials == pooled.tokens_scored * 16
    assert abs(det.null_rate - 0.5) < 0.01
    other = SynthIDDetector(master.derive("cohort:b", "synthid"), tiny_lm.tokenizer)
    assert other.detect_corpus(outs).p_value > 1e-3
    plain = generate(tiny_lm, PROMPTS, max_new_tokens=120, seed=3)
    assert det.detect_corpus(plain).p_value > 1e-3


def test_tokenizer_mismatch_is_refused(tiny_lm, master, tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train_from_iterator(
        ["a different tokenizer entirely"] * 5,
        trainers.BpeTrainer(vocab_size=300, show_progress=False),
    )
    tok.save(str(tmp_path / "tokenizer.json"))
    other = load_tokenizer(tmp_path)
    key = master.derive("cohort:a", "kgw", tokenizer_fingerprint=tiny_lm.tokenizer.fingerprint)
    with pytest.raises(WatermarkError, match="was made for tokenizer"):
        KGWDetector(key, other)


def test_model_loader_errors_name_the_path(tmp_path) -> None:
    with pytest.raises(WatermarkError, match="not found"):
        load_model(tmp_path / "nope")
    with pytest.raises(WatermarkError, match="no config.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WatermarkError, match="cannot load model"):
        load_model(tmp_path)
    with pytest.raises(WatermarkError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)


def test_user_supplied_model_dir_loads(tiny_lm, tmp_path) -> None:
    tiny_lm.model.save_pretrained(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text((tiny_lm.path / "tokenizer.json").read_text())
    lm = load_model(tmp_path)
    assert lm.tokenizer.fingerprint == tiny_lm.tokenizer.fingerprint
    assert np.array_equal(
        lm.model.transformer.wte.weight.detach().numpy(),
        tiny_lm.model.transformer.wte.weight.detach().numpy(),
    )


def test_continuation_logprobs_match_a_single_forward_pass(tiny_lm) -> None:
    import torch

    from distillguard.watermark.models import continuation_logprobs

    prefix, cands = (
        "The bronze astrolabe was first catalogued by",
        ["Edda Quillfeather", "Ingrid Ashdown"],
    )
    got = continuation_logprobs(tiny_lm, prefix, cands)
    p = tiny_lm.tokenizer.encode(prefix)
    for c, value in zip(cands, got, strict=True):
        ids = p + tiny_lm.tokenizer.encode(" " + c)
        with torch.no_grad():
            logp = torch.log_softmax(tiny_lm.model(input_ids=torch.tensor([ids])).logits[0], -1)
        manual = sum(float(logp[i - 1, ids[i]]) for i in range(len(p), len(ids)))
        assert abs(manual - value) < 1e-3


def test_next_token_probs_argmax_is_the_top1_prediction(tiny_lm) -> None:
    """The soft score's distributions and the top-1 test's predictions come from the same
    windows: one forward pass can serve both (``audit open`` relies on it)."""
    from distillguard.watermark.models import next_token_argmax, next_token_probs

    texts = [
        np.asarray(tiny_lm.tokenizer.encode("Question: what is 17 times 3? " * k), np.int64)
        for k in (1, 20)  # one window of 128 tokens, and two
    ]
    for ids, top1 in zip(texts, next_token_argmax(tiny_lm, texts), strict=True):
        probs = next_token_probs(tiny_lm, ids)
        assert probs.shape == (len(ids) - 1, tiny_lm.vocab_size)
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-9)
        assert np.array_equal(probs.argmax(-1), top1)
