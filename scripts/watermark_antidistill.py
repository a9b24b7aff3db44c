"""Measure both sides of the anti-distillation options, at CPU scale (one table).

Teacher outputs: real GSM8K worked solutions (held-out rows; the tiny LM cannot solve them,
so the reference solutions stand in for a strong teacher's answers). Conditions:
``raw``, ``scrambled`` (answer-preserving keyed shuffle of the steps) and ``summarised``
(first and last sentence plus the final answer). Teacher side: share of served answers whose
final answer is unchanged, and share of solution lines kept. Student side: the shipped tiny
LM fine-tuned on each condition; its gain is the drop in perplexity on unseen raw GSM8K
solutions (the behaviour a distiller wants to copy) relative to the untuned model.

Usage: .venv/bin/python scripts/watermark_antidistill.py [--train 600] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watermark_radioactivity import finetune  # noqa: E402

from distillguard.watermark.antidistill import scramble_steps, summarise_reasoning  # noqa: E402
from distillguard.watermark.models import load_model, perplexity  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
_CALC = re.compile(r"<<[^>]*>>")


def final(ans: str) -> str:
    m = re.search(r"####\s*(.+)$", ans.strip())
    return m.group(1).strip() if m else ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [
        json.loads(x) for x in (DATA / "payloads" / "gsm8k_train.jsonl").read_text().splitlines()
    ]
    held = rows[-1500:]
    train, test = held[: args.train], held[-args.eval :]
    lm = load_model()
    tok = lm.tokenizer
    q = [f"Question: {r['question'].strip()}\nAnswer:" for r in train]
    raw = [_CALC.sub("", r["answer"]).strip() for r in train]
    served = {
        "raw": raw,
        "scrambled": [scramble_steps(a, f"req-{i}") for i, a in enumerate(raw)],
        "summarised": [summarise_reasoning(a.replace("\n####", "\n####"), 2) for a in raw],
    }
    tq = [tok.encode(f"Question: {r['question'].strip()}\nAnswer:") for r in test]
    ta = [tok.encode(" " + _CALC.sub("", r["answer"]).strip()) for r in test]
    base = perplexity(lm, ta, prompts=tq)
    print(
        f"{'condition':<11} {'answers correct':>15} {'lines kept':>10} "
        f"{'student ppl':>11} {'gain vs base':>12}"
    )
    print(f"{'(untuned)':<11} {'':>15} {'':>10} {base:>11.2f} {0.0:>12.2f}")
    for name, answers in served.items():
        ok = sum(final(a) == final(r) for a, r in zip(answers, raw, strict=True)) / len(raw)
        kept = sum(
            len(set(a.splitlines()) & set(r.splitlines())) / len(r.splitlines())
            for a, r in zip(answers, raw, strict=True)
        ) / len(raw)
        seqs = [
            tok.encode(p) + tok.encode(" " + a) + [lm.eos_id]
            for p, a in zip(q, answers, strict=True)
        ]
        student = finetune(lm, seqs, args.epochs, args.lr, seed=3)
        ppl = perplexity(student, ta, prompts=tq)
        print(f"{name:<11} {ok:>15.1%} {kept:>10.1%} {ppl:>11.2f} {base - ppl:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
