"""Train the tiny tokenizer and causal LM shipped in ``distillguard/watermark/assets``.

Reproducible (seeded, single thread) and CPU-sized: a byte-level BPE tokenizer (vocab 4096)
and a GPT-2 style model of about 1.3 M parameters, trained for a fixed number of steps on the
public corpora in ``../shared/data`` (GSM8K question/answer pairs, PromptSource prompts and
completions, Self-Instruct instructions). The last ``HOLDOUT`` GSM8K rows are kept out of
training: the radioactivity experiment uses them as fresh prompts.

Usage::

    .venv/bin/python scripts/watermark_train_tiny.py [--steps 900] [--out DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
ASSETS = ROOT / "src" / "distillguard" / "watermark" / "assets"
HOLDOUT = 1500
EOS = "<|endoftext|>"
_CALC = re.compile(r"<<[^>]*>>")


def clean_answer(text: str) -> str:
    """Drop GSM8K calculator annotations (``<<48/2=24>>``) so the text reads naturally."""
    return _CALC.sub("", text)


def gsm8k_rows() -> list[dict[str, str]]:
    with (DATA / "payloads" / "gsm8k_train.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def qa_text(question: str, answer: str | None = None) -> str:
    """The one prompt format the tiny model is trained on (also used at generation time)."""
    head = f"Question: {question.strip()}\nAnswer:"
    return head if answer is None else f"{head} {clean_answer(answer).strip()}"


def corpus() -> list[str]:
    docs = [qa_text(r["question"], r["answer"]) for r in gsm8k_rows()[:-HOLDOUT]]
    for path in sorted(glob.glob(str(DATA / "templates" / "*.jsonl"))):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                docs.append(r["prompt"] + " " + r["completion"].replace(EOS, "").strip())
    for name in (
        "legit/user_oriented_instructions.jsonl",
        "payloads/self_instruct_seed_tasks.jsonl",
    ):
        with (DATA / name).open(encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                for inst in r.get("instances", []):
                    docs.append(
                        f"{r['instruction']}\n{inst.get('input', '')}\n{inst.get('output', '')}"
                    )
    return docs


def train_tokenizer(docs: list[str], vocab: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ASSETS / "tiny-lm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    docs = corpus()
    t0 = time.time()
    tok = train_tokenizer(docs, args.vocab)
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out / "tokenizer.json"))
    eos = tok.token_to_id(EOS)
    ids: list[int] = []
    random.Random(0).shuffle(docs)
    for enc in tok.encode_batch(docs):
        ids.extend(enc.ids)
        ids.append(eos)
    data = torch.tensor(ids, dtype=torch.long)
    print(
        f"tokenizer: vocab {tok.get_vocab_size()}, corpus {len(docs)} docs, "
        f"{len(ids)} tokens, {time.time() - t0:.1f}s"
    )
    config = GPT2Config(
        vocab_size=tok.get_vocab_size(),
        n_positions=256,
        n_embd=128,
        n_layer=4,
        n_head=4,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=3e-3, total_steps=args.steps, pct_start=0.05
    )
    gen = torch.Generator().manual_seed(0)
    model.train()
    for step in range(args.steps):
        starts = torch.randint(0, len(data) - args.seq - 1, (args.batch,), generator=gen)
        batch = torch.stack([data[s : s + args.seq] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    model.save_pretrained(str(args.out), safe_serialization=True)
    (args.out / "TRAINING.txt").write_text(
        "Trained by scripts/watermark_train_tiny.py "
        f"(steps={args.steps}, vocab={args.vocab}, seq={args.seq}, batch={args.batch}, seed 0) on "
        "GSM8K train (MIT, openai/grade-school-math) minus the last "
        f"{HOLDOUT} rows, PromptSource/T0 templates and Self-Instruct instructions "
        "(Apache-2.0, yizhongw/self-instruct). "
        f"{n_params} parameters; final training loss {loss.item():.3f}.\n",
        encoding="utf-8",
    )
    print(f"saved to {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
