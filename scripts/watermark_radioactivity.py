"""End-to-end radioactivity experiment at CPU scale (minutes), printed as one table.

Teacher = the shipped tiny LM. It answers held-out GSM8K questions and human instructions
with a KGW watermark (gamma 0.25, delta 2, h 1; key of scope ``cohort:harvester``) and,
for the same prompts, without one. Students (initialised from the teacher's weights, i.e.
self-distillation; the only difference between students is the data) are fine-tuned on
mixtures where a fraction f of the answers is watermarked. Each student is audited:

* open mode: its top-1 predictions on the watermarked answers we served, de-duplicated
  (window, prediction) tuples, prompt windows excluded;
* closed mode: its own answers to fresh probe prompts;
* control: 100 never-used keys per student (KS test of their randomised p-values);
* soft open mode (:mod:`distillguard.watermark.soft`): the student's probability mass on the
  green lists of the windows of the text we served (served and all answers), with
  ``--soft-controls`` never-used keys on the served text (KS of their normal-approximation
  p-values, and the fraction of rigorous and normal p-values below 0.01). A ``teacher`` row
  scores the untuned teacher itself (it never saw watermarked text: a true-key H0 check).

``--transforms`` adds students whose watermarked answers were altered before training:
``paraphrase`` = a simple word-level paraphraser (synonym swaps for ~90 % of the words in the
synonym table, 10 % adjacent-word swaps, 5 % word drops); ``rewrite`` = partial rewriting: the
second half of each watermarked answer replaced by the clean teacher's answer to the same
prompt from that point on (half of the text rewritten by an unwatermarked model). Open mode
still scores the text *we served* (the original watermarked answers).
Also reports the teacher's cost: perplexity of its answers under the unwatermarked teacher.

Resumable: the teacher's generations, every trained student (state dict) and every finished
row are cached under ``--cache`` (keyed by the settings that produced them), so an
interrupted run continues where it stopped. Students are trained one at a time on one thread.

Open mode scores two text sets: ``served`` = the watermarked answers that were in the
student's data (what our logs say we served to that account: Sander et al.'s "supervised"
setting; for the 0 % student, all watermarked answers, none of which it saw) and ``all`` =
every watermarked answer (mostly unseen by the low-fraction students).

Usage: .venv/bin/python scripts/watermark_radioactivity.py [--prompts 400]
       [--transforms none,paraphrase,rewrite] [--min-new-tokens 64]
       [--delta 2] [--new-tokens 64] [--cache /tmp/dg-radioactivity]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from distillguard.watermark import stats
from distillguard.watermark.keys import KeyRing, MasterSecret, WatermarkKey
from distillguard.watermark.kgw import KGWDetector, KGWParams
from distillguard.watermark.lexical import SynonymTable
from distillguard.watermark.models import (
    LocalModel,
    generate,
    next_token_argmax,
    next_token_probs,
    perplexity,
)
from distillguard.watermark.processors import KGWLogitsProcessor
from distillguard.watermark.soft import SoftGreenTest, WindowMassAccumulator

TRANSFORMS = ("none", "paraphrase", "rewrite")
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _jsonl(name: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in (DATA / name).read_text().splitlines() if x.strip()]


def load_prompts(n: int, probes: int) -> tuple[list[str], list[str]]:
    """``n`` training prompts and ``probes`` probe prompts, disjoint.

    GSM8K questions held out of the tiny LM's training (minus the last ``probes``, which are
    the closed-mode probes) interleaved with human instructions (Self-Instruct user-oriented
    and seed tasks, Vicuna's 80 questions); GSM8K fills the rest.
    """
    rows = _jsonl("payloads/gsm8k_train.jsonl")
    held = [f"Question: {str(r['question']).strip()}\nAnswer:" for r in rows[-1500:]]
    pool, probe = held[:-probes], held[-probes:]
    inst = [str(r["instruction"]) + "\n" for r in _jsonl("legit/user_oriented_instructions.jsonl")]
    inst += [
        str(r["instruction"]) + "\n" for r in _jsonl("payloads/self_instruct_seed_tasks.jsonl")
    ]
    inst += [str(r["text"]) + "\n" for r in _jsonl("legit/vicuna_question_80.jsonl")]
    train: list[str] = []
    for i in range(max(len(pool), len(inst))):
        train += [x[i] for x in (pool, inst) if i < len(x)]
    if n > len(train):
        train += extra_prompts(set(train) | set(probe))
    if n > len(train):
        raise SystemExit(f"--prompts {n}: only {len(train)} prompts available")
    return train[:n], probe


def extra_prompts(used: set[str]) -> list[str]:
    """Prompts beyond the first pool (fourth session, 4,800 prompts): T0 / PromptSource
    filled templates and the GSM8K train questions outside the held-out 1,500 (both were in
    the tiny LM's pre-training corpus), each shuffled with a fixed seed, then interleaved.
    Appended after the first pool, so every shorter prompt list is unchanged."""
    rows = _jsonl("payloads/gsm8k_train.jsonl")
    gsm = [f"Question: {str(r['question']).strip()}\nAnswer:" for r in rows[:-1500]]
    t0 = [
        str(r["prompt"])
        for f in sorted((DATA / "templates").glob("*.jsonl"))
        for r in _jsonl(f"templates/{f.name}")
    ]
    out: list[str] = []
    seen = set(used)
    srcs = []
    for seed, src in ((48, t0), (49, gsm)):
        src = list(dict.fromkeys(src))
        random.Random(seed).shuffle(src)
        srcs.append(src)
    for i in range(max(len(x) for x in srcs)):
        for x in srcs:
            if i < len(x) and x[i] not in seen:
                seen.add(x[i])
                out.append(x[i])
    return out


def paraphrase(text: str, rng: random.Random, table: SynonymTable) -> str:
    index = table.index()
    words = re.findall(r"\S+", text)
    out = []
    for w in words:
        if rng.random() < 0.05:
            continue
        core = w.strip(".,!?;:").lower()
        if core in index and rng.random() < 0.9:
            w = w.replace(core, rng.choice(table.groups[index[core]]))
        out.append(w)
    for i in range(len(out) - 1):
        if rng.random() < 0.1:
            out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def rewrite_second_half(
    teacher: LocalModel,
    prompts: list[str],
    wm: list[list[int]],
    picked: list[int],
    args: argparse.Namespace,
) -> dict[int, list[int]]:
    """Keep the first half of each picked watermarked answer; the unwatermarked teacher
    writes the rest (sampled, same length budget): half the text rewritten by another model."""
    heads = {i: wm[i][: len(wm[i]) // 2] for i in picked}
    tails = generate(
        teacher,
        [prompts[i] + teacher.tokenizer.decode(heads[i]) for i in picked],
        max_new_tokens=args.new_tokens - args.new_tokens // 2,
        min_new_tokens=args.min_new_tokens // 2,
        seed=4,
    )
    return {i: heads[i] + t for i, t in zip(picked, tails, strict=True)}


def finetune(
    teacher: LocalModel, seqs: list[list[int]], epochs: int, lr: float, seed: int
) -> LocalModel:
    torch.manual_seed(seed)
    model = copy.deepcopy(teacher.model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    eos = teacher.eos_id
    for _ in range(epochs):
        order = list(range(len(seqs)))
        rng.shuffle(order)
        for b in range(0, len(order), 16):
            batch = [seqs[i][:256] for i in order[b : b + 16]]
            width = max(len(s) for s in batch)
            ids = torch.full((len(batch), width), eos, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            for i, s in enumerate(batch):
                ids[i, : len(s)] = torch.tensor(s)
                labels[i, : len(s)] = torch.tensor(s)
            loss = model(input_ids=ids, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return LocalModel(model, teacher.tokenizer, teacher.path, teacher.eos_id)


def _tag(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


CHUNK = 1200  # teacher generations are cached per chunk of this many prompts


def _teacher_chunk(
    teacher: LocalModel,
    prompts: list[str],
    proc: KGWLogitsProcessor,
    args: argparse.Namespace,
    k: int,
) -> dict[str, object]:
    """Chunk ``k`` of the teacher's answers (cached). Chunk 0 keeps the earlier sessions'
    cache key and seeds, so a run of up to :data:`CHUNK` prompts is unchanged."""
    chunk = prompts[k * CHUNK : (k + 1) * CHUNK]
    parts: tuple[object, ...] = (
        chunk,
        args.new_tokens,
        args.min_new_tokens,
        args.delta,
        args.gamma,
        args.width,
    )
    path = args.cache / f"teacher-{_tag(*parts, k) if k else _tag(*parts)}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    p_ids = [teacher.tokenizer.encode(p) for p in chunk]
    kw = {"max_new_tokens": args.new_tokens, "min_new_tokens": args.min_new_tokens}
    t0 = time.process_time()
    wm = generate(teacher, chunk, processors=[proc], seed=1 + 10 * k, **kw)
    clean = generate(teacher, chunk, seed=2 + 10 * k, **kw)
    out = {
        "wm": wm,
        "clean": clean,
        "ppl_wm": perplexity(teacher, wm, prompts=p_ids),
        "ppl_clean": perplexity(teacher, clean, prompts=p_ids),
    }
    print(f"# teacher chunk {k}: {len(chunk)} prompts, {time.process_time() - t0:.0f}s CPU")
    path.write_text(json.dumps(out))
    return out


def _pooled_ppl(chunks: list[dict[str, object]], name: str) -> float:
    """Perplexity over all chunks: exp of the token-weighted mean log-perplexity."""
    ans = "wm" if name == "ppl_wm" else "clean"
    texts: list[list[list[int]]] = [c[ans] for c in chunks]  # type: ignore[misc]
    n = [sum(len(a) for a in t) for t in texts]
    logs = [float(np.log(float(c[name]))) for c in chunks]  # type: ignore[arg-type]
    return float(np.exp(np.dot(n, logs) / max(sum(n), 1)))


def teacher_outputs(
    teacher: LocalModel, prompts: list[str], proc: KGWLogitsProcessor, args: argparse.Namespace
) -> dict[str, object]:
    """The teacher's watermarked and clean answers (cached on disk per chunk of
    :data:`CHUNK` prompts) and their perplexities."""
    chunks = [
        _teacher_chunk(teacher, prompts, proc, args, k)
        for k in range((len(prompts) + CHUNK - 1) // CHUNK)
    ]
    if len(chunks) == 1:
        return chunks[0]
    return {
        "wm": [a for c in chunks for a in c["wm"]],  # type: ignore[attr-defined]
        "clean": [a for c in chunks for a in c["clean"]],  # type: ignore[attr-defined]
        "ppl_wm": _pooled_ppl(chunks, "ppl_wm"),
        "ppl_clean": _pooled_ppl(chunks, "ppl_clean"),
    }


def soft_scores(
    model: LocalModel,
    texts: list[np.ndarray],
    starts: list[int],
    served: list[int],
    key: WatermarkKey,
    controls: KeyRing,
    params: KGWParams,
    path: Path,
) -> dict[str, object]:
    """Soft open-mode scores of one model (cached in ``path``): served texts with control
    keys, and all texts."""
    if path.exists():
        return dict(json.loads(path.read_text()))
    t0 = time.time()
    h = params.context_width
    acc_all = WindowMassAccumulator(model.vocab_size, h)
    acc_srv = WindowMassAccumulator(model.vocab_size, h)
    picked = set(served)
    for i, (t, s) in enumerate(zip(texts, starts, strict=True)):
        probs = next_token_probs(model, t)
        acc_all.add(t, probs, s)
        if i in picked:
            acc_srv.add(t, probs, s)
    srv = SoftGreenTest(acc_srv.result(), params)
    d_srv = srv.test(key)
    d_all = SoftGreenTest(acc_all.result(), params).test(key)
    ctl = srv.test_many(controls.keys)
    rig = np.array([d.p_value for d in ctl])
    nor = np.array([d.p_normal for d in ctl])
    out: dict[str, object] = {
        "soft_p": d_srv.p_value,
        "soft_p_normal": d_srv.p_normal,
        "soft_z": round(d_srv.z, 3),
        "soft_windows": d_srv.windows,
        "soft_positions": d_srv.positions_used,
        "soft_green_mass": round(d_srv.green_mass, 5),
        "soft_all_p": d_all.p_value,
        "soft_all_p_normal": d_all.p_normal,
        "soft_all_z": round(d_all.z, 3),
        "soft_all_windows": d_all.windows,
        "soft_all_green_mass": round(d_all.green_mass, 5),
        "soft_controls": len(ctl),
        "soft_ctl_min_p": float(rig.min()),
        "soft_ctl_ks_p": stats.ks_uniform(list(nor)),
        "soft_ctl_frac_p01": float(np.mean(rig < 0.01)),
        "soft_ctl_frac_normal_p01": float(np.mean(nor < 0.01)),
        "soft_ctl_mean_z": round(float(np.mean([d.z for d in ctl])), 3),
        "soft_ctl_sd_z": round(float(np.std([d.z for d in ctl])), 3),
        "soft_s": round(time.time() - t0, 1),
    }
    path.write_text(json.dumps(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=400)
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument(
        "--min-new-tokens", type=int, default=0, help="Suppress EOS before this many tokens."
    )
    ap.add_argument("--prompt-tokens", type=int, default=48, help="Keep the prompt's last N.")
    ap.add_argument("--gamma", type=float, default=0.25)
    ap.add_argument("--delta", type=float, default=2.0)
    ap.add_argument("--width", type=int, default=1, help="KGW context width h.")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--fractions", default="0,0.01,0.05,0.2,1")
    ap.add_argument(
        "--transforms",
        default="none",
        help="Comma list of none, paraphrase, rewrite (altered rows use fractions > 0).",
    )
    ap.add_argument("--controls", type=int, default=100)
    ap.add_argument("--soft-controls", type=int, default=200, help="Control keys, soft score.")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dg-radioactivity")
    ap.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    ap.add_argument(
        "--teacher-row", action="store_true", help="Also score the untuned teacher (soft, H0)."
    )
    ap.add_argument(
        "--teacher-chunk",
        type=int,
        help="Only generate (and cache) this chunk of 1,200 teacher prompts, then exit.",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    from distillguard.watermark.models import load_model

    teacher = load_model()
    tok = teacher.tokenizer
    master = MasterSecret(b"radioactivity-experiment-master!")
    params = KGWParams(gamma=args.gamma, delta=args.delta, context_width=args.width)
    key = master.derive("cohort:harvester", "kgw", tokenizer_fingerprint=tok.fingerprint)
    controls = KeyRing.derive(master, [f"cohort:ctl-{i}" for i in range(args.controls)], "kgw")
    soft_ctl = KeyRing.derive(
        master, [f"cohort:soft-ctl-{i}" for i in range(args.soft_controls)], "kgw"
    )
    train_prompts, probe_prompts = load_prompts(args.prompts, args.probes)
    cut = args.prompt_tokens
    train_prompts = [tok.decode(tok.encode(p)[-cut:]) for p in train_prompts]
    probe_prompts = [tok.decode(tok.encode(p)[-cut:]) for p in probe_prompts]
    p_ids = [tok.encode(p) for p in train_prompts]
    proc = KGWLogitsProcessor(key, teacher.vocab_size, params)
    if args.teacher_chunk is not None:
        _teacher_chunk(teacher, train_prompts, proc, args, args.teacher_chunk)
        return
    gen = teacher_outputs(teacher, train_prompts, proc, args)
    wm: list[list[int]] = gen["wm"]  # type: ignore[assignment]
    clean: list[list[int]] = gen["clean"]  # type: ignore[assignment]
    ppl_wm, ppl_clean = float(gen["ppl_wm"]), float(gen["ppl_clean"])  # type: ignore[arg-type]
    det = KGWDetector(key, tok, params)
    teacher_p = det.detect_corpus(wm, prompts=p_ids)
    wm_tokens = sum(len(a) for a in wm)
    print(
        f"# teacher: {len(wm)} answers ({wm_tokens} tokens), delta {args.delta}, ppl clean "
        f"{ppl_clean:.1f} vs watermarked {ppl_wm:.1f}; pooled teacher-output "
        f"p={teacher_p.p_value:.2g} on {teacher_p.tokens_scored} tuples, green "
        f"{teacher_p.green_fraction:.3f}; {time.time() - t0:.0f}s",
        flush=True,
    )
    served_all = [np.asarray(p + a, dtype=np.int64) for p, a in zip(p_ids, wm, strict=True)]
    starts_all = [len(p) for p in p_ids]
    table = SynonymTable.default()
    rows = []
    modes = args.transforms.split(",")
    if not set(modes) <= set(TRANSFORMS):
        raise SystemExit(f"--transforms {args.transforms}: expected a subset of {TRANSFORMS}")
    variants = [
        (float(f), m) for m in modes for f in args.fractions.split(",") if m == "none" or float(f)
    ]
    base = _tag(
        args.prompts,
        args.new_tokens,
        cut,
        args.delta,
        args.gamma,
        args.width,
        args.epochs,
        args.lr,
        args.probes,
        args.controls,
        args.min_new_tokens,
        3,
    )
    soft_tag = _tag(base, args.soft_controls, "soft-v1")
    every = list(range(len(served_all)))
    if args.teacher_row:
        t_soft = soft_scores(
            teacher,
            served_all,
            starts_all,
            every,
            key,
            soft_ctl,
            params,
            args.cache / f"soft-{soft_tag}-teacher.json",
        )
        print(f"# teacher (untuned, H0 for the true key) soft: {t_soft}", flush=True)
        rows.append({"fraction": -1.0, "transform": "teacher", **t_soft})
    for frac, mode in variants:
        row_path = args.cache / f"row-{base}-{frac}-{TRANSFORMS.index(mode)}.json"
        student_path = args.cache / f"student-{base}-{frac}-{TRANSFORMS.index(mode)}.pt"
        soft_path = args.cache / f"soft-{soft_tag}-{frac}-{TRANSFORMS.index(mode)}.json"
        rng = random.Random(int(frac * 1000) + 7)
        prng = random.Random(int(frac * 1000) + 11)  # paraphraser: own stream, same picks
        picked = [i for i in range(len(train_prompts)) if rng.random() < frac or frac == 1.0]
        if row_path.exists():
            row = json.loads(row_path.read_text())
            if not soft_path.exists():
                student = copy.deepcopy(teacher)
                student.model.load_state_dict(torch.load(student_path))
            row.update(
                soft_scores(
                    student if not soft_path.exists() else teacher,
                    served_all,
                    starts_all,
                    picked or every,
                    key,
                    soft_ctl,
                    params,
                    soft_path,
                )
            )
            rows.append(row)
            print(f"# cached f={frac} {mode}: {row}", flush=True)
            continue
        answers = {i: wm[i] for i in picked}
        if mode == "paraphrase":
            answers = {i: tok.encode(paraphrase(tok.decode(wm[i]), prng, table)) for i in picked}
        elif mode == "rewrite":
            answers = rewrite_second_half(teacher, train_prompts, wm, picked, args)
        wm_train_tokens = sum(
            len(wm[i]) // 2 if mode == "rewrite" else len(answers[i]) for i in picked
        )
        seqs = [
            p_ids[i] + answers.get(i, clean[i]) + [teacher.eos_id]
            for i in range(len(train_prompts))
        ]
        train_s = float("nan")
        t_row = time.time()
        if student_path.exists():
            student = copy.deepcopy(teacher)
            student.model.load_state_dict(torch.load(student_path))
        else:
            t_train = time.time()
            student = finetune(teacher, seqs, args.epochs, args.lr, seed=3)
            torch.save(student.model.state_dict(), student_path)
            train_s = time.time() - t_train
        print(f"# trained f={frac} {mode} at {time.time() - t0:.0f}s", flush=True)
        preds_all = next_token_argmax(student, served_all)
        idx = picked or list(range(len(served_all)))
        served = [served_all[i] for i in idx]
        preds = [preds_all[i] for i in idx]
        starts = [starts_all[i] for i in idx]
        open_d = det.detect_predictions(served, preds, starts=starts)
        all_d = det.detect_predictions(served_all, preds_all, starts=starts_all)
        ctl = [
            KGWDetector(k, params=params).detect_predictions(served, preds, starts=starts)
            for k in controls.keys
        ]
        u = np.random.default_rng(0).random(len(ctl))
        ks = stats.ks_uniform([d.randomized_p(float(x)) for d, x in zip(ctl, u, strict=True)])
        outs = generate(
            student,
            probe_prompts,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.min_new_tokens,
            seed=5,
        )
        closed_d = det.detect_corpus(outs, prompts=probe_prompts)
        row = {
            "fraction": frac,
            "transform": mode,
            "wm_answers": len(picked),
            "wm_train_tokens": wm_train_tokens,
            "open_p": open_d.p_value,
            "open_scored": open_d.tokens_scored,
            "open_green": round(open_d.green_fraction, 4),
            "all_p": all_d.p_value,
            "all_scored": all_d.tokens_scored,
            "all_green": round(all_d.green_fraction, 4),
            "closed_p": closed_d.p_value,
            "closed_scored": closed_d.tokens_scored,
            "closed_green": round(closed_d.green_fraction, 4),
            "control_min_p": min(d.p_value for d in ctl),
            "control_ks_p": ks,
            "train_tokens": sum(len(q) for q in seqs) * args.epochs,
            "train_s": round(train_s, 1),
            "row_s": round(time.time() - t_row, 1),
            "loadavg": [round(x, 1) for x in os.getloadavg()],
        }
        row_path.write_text(json.dumps(row))
        row.update(
            soft_scores(student, served_all, starts_all, idx, key, soft_ctl, params, soft_path)
        )
        rows.append(row)
        print(f"# done f={frac} {mode} at {time.time() - t0:.0f}s: {row}", flush=True)
    cols = [
        ("f", "fraction", ">5.2f"),
        ("data", "transform", ">10"),
        ("#wm", "wm_answers", ">5"),
        ("wm tok", "wm_train_tokens", ">7"),
        ("served p", "open_p", ">9.2g"),
        ("scored", "open_scored", ">7"),
        ("green", "open_green", ">6.3f"),
        ("all p", "all_p", ">9.2g"),
        ("scored", "all_scored", ">7"),
        ("green", "all_green", ">6.3f"),
        ("closed p", "closed_p", ">9.2g"),
        ("scored", "closed_scored", ">7"),
        ("green", "closed_green", ">6.3f"),
        ("ctl min p", "control_min_p", ">9.2g"),
        ("ctl KS p", "control_ks_p", ">8.2f"),
        ("soft p", "soft_p", ">9.2g"),
        ("soft pN", "soft_p_normal", ">9.2g"),
        ("windows", "soft_windows", ">7"),
        ("gmass", "soft_green_mass", ">7.4f"),
        ("soft all p", "soft_all_p", ">10.2g"),
        ("windows", "soft_all_windows", ">7"),
        ("sctl KS", "soft_ctl_ks_p", ">7.2f"),
        ("sctl<.01", "soft_ctl_frac_p01", ">8.3f"),
        ("sctlN<.01", "soft_ctl_frac_normal_p01", ">9.3f"),
    ]
    print(" ".join(f"{h:>{f[1:].split('.')[0]}}" for h, _, f in cols))
    for r in rows:
        print(" ".join(format(r[k], f) if k in r else f"{'-':{f[:-2] or f}}" for _, k, f in cols))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"teacher": {"ppl_clean": ppl_clean, "ppl_wm": ppl_wm}, "rows": rows}, indent=2
            )
        )


if __name__ == "__main__":
    main()
