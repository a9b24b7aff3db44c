"""Canary audit end to end on the tiny model (one table).

A student (initialised from the shipped tiny LM) is fine-tuned on teacher answers to held-out
GSM8K questions; ``--planted`` of them carry a canary (``CanaryBook.plant``), each seen
``--repeats`` times in training. The open-weights ranking audit then asks, for each planted
canary, whether the student scores the secret name highest among the 64 candidates (chance
1/64), against the untuned model as a clean control; decoy canaries (made but never planted)
are audited too.

Usage: .venv/bin/python scripts/watermark_canaries.py [--planted 30] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watermark_radioactivity import finetune  # noqa: E402

from distillguard.watermark.canary import CANDIDATES, CanaryBook, audit_ranking  # noqa: E402
from distillguard.watermark.canary_ledger import CanaryLedger  # noqa: E402
from distillguard.watermark.keys import MasterSecret  # noqa: E402
from distillguard.watermark.models import continuation_logprobs, generate, load_model  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=300)
    ap.add_argument("--planted", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ledger", type=Path, help="Record planted canaries in this JSONL ledger.")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [
        json.loads(x) for x in (DATA / "payloads" / "gsm8k_train.jsonl").read_text().splitlines()
    ]
    prompts = [f"Question: {r['question'].strip()}\nAnswer:" for r in rows[-1500:][: args.answers]]
    lm = load_model()
    tok = lm.tokenizer
    answers = [tok.decode(a) for a in generate(lm, prompts, max_new_tokens=48, seed=1)]
    ledger = CanaryLedger(args.ledger) if args.ledger else None
    book = CanaryBook(MasterSecret(b"canary-experiment-master-secret!"), ledger)
    texts = list(answers)
    for i in range(args.planted):
        texts[i] = book.plant(answers[i], f"acct_{i % 5}")
    planted = list(book.planted)
    decoys = [book.make("never-served", i) for i in range(args.planted)]
    seqs = [
        tok.encode(p) + tok.encode(" " + t) + [lm.eos_id]
        for p, t in zip(prompts, texts, strict=True)
    ]
    seqs += [seqs[i] for i in range(args.planted)] * (args.repeats - 1)
    student = finetune(lm, seqs, args.epochs, 2e-3, seed=3)

    def scorer(model):
        cache: dict[str, list[float]] = {}

        def score(prefix: str, name: str) -> float:
            if prefix not in cache:
                cache[prefix] = continuation_logprobs(model, prefix, list(CANDIDATES))
            return cache[prefix][CANDIDATES.index(name)]

        return score

    print(f"{'model':<16} {'canaries':<9} {'tested':>6} {'hits':>5} {'expected':>8} {'p-value':>9}")
    for label, model in (("student", student), ("untuned control", lm)):
        for kind, cans in (("planted", planted), ("decoys", decoys)):
            r = audit_ranking(cans, scorer(model))
            print(
                f"{label:<16} {kind:<9} {r.canaries:>6} {r.hits:>5} "
                f"{r.expected_by_chance:>8.2f} {r.p_value:>9.2g}"
            )


if __name__ == "__main__":
    main()
