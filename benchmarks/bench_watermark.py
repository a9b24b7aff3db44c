"""KGW detection targets on the shipped tiny model: power, false positives, speed.

Prints one table. Measures, for KGW gamma=0.25, delta=2, h=1 (left hash):
  * power: share of generations (200 new tokens, held-out GSM8K questions and human
    instructions as prompts) detected at p < 1e-6, and the mean next-token entropy of the
    model (a low-entropy model cannot carry a strong watermark);
  * FPR: share of >= 10,000 windows of 200 tokens of human text from ../shared/data (never
    watermarked) with p < 1e-6, each tested with its own random key; also at 1e-2 / 1e-3 to
    show calibration where false positives are observable;
  * speed: detection throughput on one core (hashing + de-dup + exact p-value; tokenisation
    reported separately).

Usage: .venv/bin/python benchmarks/bench_watermark.py [--small]
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import numpy as np
import torch

from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.kgw import KGWDetector, KGWParams
from distillguard.watermark.models import generate, load_model
from distillguard.watermark.processors import KGWLogitsProcessor

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
THRESHOLD = 1e-6


def prompts(n: int) -> list[str]:
    rows = [
        json.loads(x) for x in (DATA / "payloads" / "gsm8k_train.jsonl").read_text().splitlines()
    ]
    qs = [f"Question: {r['question'].strip()}\nAnswer:" for r in rows[-1500:]]
    inst = [
        json.loads(x)["instruction"] + "\n"
        for x in (DATA / "legit" / "user_oriented_instructions.jsonl").read_text().splitlines()
    ]
    mixed = [p for pair in zip(qs, inst, strict=False) for p in pair] + qs[len(inst) :]
    return mixed[:n]


def human_texts() -> list[str]:
    out = []
    for r in (DATA / "payloads" / "gsm8k_train.jsonl").read_text().splitlines():
        d = json.loads(r)
        out.append(d["question"] + " " + d["answer"])
    for path in sorted(glob.glob(str(DATA / "templates" / "*.jsonl"))):
        for line in Path(path).read_text().splitlines():
            d = json.loads(line)
            out.append(d["prompt"] + " " + d["completion"])
    for name in (
        "attacks/tensor_trust_hijacking_robustness.jsonl",
        "attacks/tensor_trust_extraction_robustness.jsonl",
    ):
        for line in (DATA / name).read_text().splitlines():
            d = json.loads(line)
            out.append(" ".join(str(d.get(k, "")) for k in ("pre_prompt", "attack", "post_prompt")))
    return out


def entropy(lm, prompt_list: list[str]) -> float:
    ents = []
    with torch.no_grad():
        for p in prompt_list:
            ids = torch.tensor([lm.tokenizer.encode(p)])
            logp = torch.log_softmax(lm.model(input_ids=ids).logits[0, -1], -1)
            ents.append(float(-(logp.exp() * logp).sum()))
    return float(np.mean(ents))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n_gen = 40 if args.small else 200
    n_fpr = 2000 if args.small else 12000
    lm = load_model()
    master = MasterSecret(b"bench-watermark-master-secret-01")
    params = KGWParams(gamma=0.25, delta=2.0, context_width=1)
    rows: list[tuple[str, str, str]] = []

    ps = prompts(n_gen)
    key = master.derive("cohort:bench", "kgw", tokenizer_fingerprint=lm.tokenizer.fingerprint)
    t0 = time.perf_counter()
    outs = generate(
        lm,
        ps,
        processors=[KGWLogitsProcessor(key, lm.vocab_size, params)],
        max_new_tokens=200,
        min_new_tokens=200,
        seed=0,
    )
    gen_s = time.perf_counter() - t0
    det = KGWDetector(key, lm.tokenizer, params)
    res = [det.detect(o[:200], prompt=p) for o, p in zip(outs, ps, strict=True)]
    full = [r for r, o in zip(res, outs, strict=True) if len(o) >= 200]
    detected = sum(r.p_value < THRESHOLD for r in res)
    rows.append(
        (
            "power: generations detected at p<1e-6",
            f"{detected}/{len(res)} = {detected / len(res):.1%}",
            f"{len(res)} prompts, 200 new tokens (EOS suppressed), {gen_s:.0f}s",
        )
    )
    if full:
        d_full = sum(r.p_value < THRESHOLD for r in full)
        rows.append(
            (
                "power: ... among those reaching 200 tokens",
                f"{d_full}/{len(full)} = {d_full / len(full):.1%}",
                "others stopped early at EOS",
            )
        )
    lengths = np.array([len(o) for o in outs])
    rows.append(
        (
            "generation length (tokens) median / p10",
            f"{np.median(lengths):.0f} / {np.percentile(lengths, 10):.0f}",
            "EOS ends some answers early",
        )
    )
    rows.append(
        (
            "median tokens scored / median p-value",
            f"{np.median([r.tokens_scored for r in res]):.0f} / "
            f"{np.median([r.p_value for r in res]):.2g}",
            "unique (window, token) tuples",
        )
    )
    rows.append(
        (
            "model next-token entropy (nats, mean)",
            f"{entropy(lm, ps[:50]):.2f}",
            "at the first answer token",
        )
    )

    texts = human_texts()
    enc = lm.tokenizer.inner.encode_batch(texts)
    stream = np.fromiter((i for e in enc for i in e.ids), dtype=np.int64)
    windows = [stream[s : s + 200] for s in range(0, stream.size - 200, 200)][:n_fpr]
    fp = {1e-2: 0, 1e-3: 0, THRESHOLD: 0}
    for i, w in enumerate(windows):
        p = KGWDetector(master.derive(f"cohort:null-{i}", "kgw"), params=params).detect(w).p_value
        for a in fp:
            fp[a] += p < a
    n = len(windows)
    for a, c in fp.items():
        upper = 3.0 / n if c == 0 else (c + 2 * np.sqrt(c)) / n
        rows.append(
            (
                f"FPR at p<{a:g} (human 200-token windows)",
                f"{c}/{n} = {c / n:.2e}",
                f"~95% upper bound {upper:.1e}",
            )
        )

    big = np.concatenate([stream] * max(1, 2_000_000 // stream.size + 1))[:2_000_000]
    det0 = KGWDetector(key, params=params)
    cpu = min(_timed(lambda: det0.detect(big), time.process_time) for _ in range(3))
    wall = min(_timed(lambda: det0.detect(big)) for _ in range(3))
    rows.append(
        (
            "detection speed, one core (ids in)",
            f"{big.size / cpu / 1e6:.1f} M tokens/s (CPU time)",
            f"{big.size / wall / 1e6:.1f} M/s wall on the shared box; best of 3, 2M tokens",
        )
    )
    sample = texts[:2000]
    tok_s = _timed(lambda: [lm.tokenizer.encode(t) for t in sample])
    ntok = sum(len(e.ids) for e in enc[:2000])
    rows.append(
        (
            "tokenisation (tokenizers, one call per text)",
            f"{ntok / tok_s / 1e6:.2f} M tokens/s",
            "not part of the detector",
        )
    )

    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':<24}  notes")
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:<24}  {note}")


def _timed(fn, clock=time.perf_counter) -> float:
    t = clock()
    fn()
    return clock() - t


if __name__ == "__main__":
    main()
