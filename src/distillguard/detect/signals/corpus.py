"""Training and evaluation examples: real corpora plus generated tactic wrappers.

Positives are *wrappers* (the tactic) put around *payloads* (any task) from several real
corpora, in many paraphrases built from interchangeable parts, before or after the payload.
Negatives are the same payloads bare, legitimate prompts, filled T0 templates (bulk but
ordinary tasks), and hard negatives that share words with a tactic without being one ("explain
step by step how ...", "give me 5 names for my cat", "repeat after me").

Every example carries a ``group`` (the corpus of its payload or attack) and a ``style`` (the
wrapper family that made it) so that evaluation can hold out whole corpora and whole wrapper
styles, never random lines. Labels per signal are 1, 0, or -1 (excluded: ambiguous, e.g. an
extraction attack is neither a clean positive nor a clean negative for "jailbreak").
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distillguard.detect.signals import compose as K
from distillguard.detect.signals import wrappers as W

#: signal names, in registry order (kept here to avoid importing the models)
SIGNAL_NAMES: tuple[str, ...] = (
    "reasoning_trace",
    "rubric_grading",
    "synthetic_data",
    "capability_sweep",
    "prompt_extraction",
    "jailbreak",
)

#: payload corpora used for training; the others are held out for evaluation
TRAIN_PAYLOADS: tuple[str, ...] = ("gsm8k", "self_instruct", "t0_a")
TEST_PAYLOADS: tuple[str, ...] = ("vicuna", "user_oriented", "t0_b")


@dataclass(frozen=True, slots=True)
class Example:
    """One prompt with its labels."""

    text: str
    labels: dict[str, int]
    group: str
    style: str
    tool_count: int = 0


@dataclass(slots=True)
class Corpora:
    """Payloads and attacks read from ``shared/data``."""

    payloads: dict[str, list[str]] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    attacks: dict[str, list[str]] = field(default_factory=dict)


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _task(rec: dict[str, object]) -> str:
    text = str(rec.get("instruction", ""))
    inst = rec.get("instances")
    if isinstance(inst, list) and inst and isinstance(inst[0], dict):
        inp = str(inst[0].get("input", "") or "")
        if inp:
            text += "\n" + inp
    return text


def load_corpora(data: Path, *, limit: int = 0) -> Corpora:
    """Read the corpora (``limit`` > 0 keeps that many payloads per corpus, for quick runs)."""
    c = Corpora()
    gsm = list(_jsonl(data / "payloads" / "gsm8k_train.jsonl"))
    c.payloads["gsm8k"] = [str(r["question"]) for r in gsm]
    c.answers = [str(r["answer"]).split("####")[0].strip() for r in gsm]
    c.payloads["self_instruct"] = [
        _task(r) for r in _jsonl(data / "payloads" / "self_instruct_seed_tasks.jsonl")
    ]
    c.payloads["user_oriented"] = [
        _task(r) for r in _jsonl(data / "legit" / "user_oriented_instructions.jsonl")
    ]
    c.payloads["vicuna"] = [
        str(r["text"]) for r in _jsonl(data / "legit" / "vicuna_question_80.jsonl")
    ]
    files = sorted((data / "templates").glob("*.jsonl"))
    t0: dict[str, list[str]] = {"t0_a": [], "t0_b": []}
    for i, f in enumerate(files):
        rows = [str(r["prompt"]) for r in _jsonl(f)][:12]
        t0["t0_a" if i % 2 == 0 else "t0_b"].extend(rows)
    c.payloads.update(t0)
    for name, fname in (
        ("tt_extraction", "tensor_trust_extraction_robustness.jsonl"),
        ("tt_hijacking", "tensor_trust_hijacking_robustness.jsonl"),
    ):
        c.attacks[name] = [str(r["attack"]) for r in _jsonl(data / "attacks" / fname)]
    if limit:
        c.payloads = {k: v[:limit] for k, v in c.payloads.items()}
        c.attacks = {k: v[:limit] for k, v in c.attacks.items()}
        c.answers = c.answers[:limit]
    return c


def _labels(pos: str | None = None, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    out = dict.fromkeys(SIGNAL_NAMES, 0)
    for name in exclude:
        out[name] = -1
    if pos is not None:
        out[pos] = 1
    return out


#: signal -> style name -> wrapper(rng, payload, corpora) -> (text, tool_count)
Wrapper = Callable[[random.Random, str, object], tuple[str, int]]
STYLES: dict[str, dict[str, Wrapper]] = {
    name: {**W.STYLES[name], **K.STYLES.get(name, {})} for name in W.STYLES
}
#: legitimate prompts that share words with a tactic (label 0 for every signal)
HARD_NEGATIVES: dict[str, Wrapper] = {**W.HARD_NEGATIVES, **K.HARD_NEGATIVES}
#: the wrapper styles held out of training for evaluation, per signal
HELD_OUT_STYLES: dict[str, tuple[str, ...]] = W.HELD_OUT


def examples(c: Corpora, *, seed: int = 0, per_style: int = 400) -> list[Example]:
    """All examples: positives per signal and style, then negatives and hard negatives."""
    rng = random.Random(seed)
    out: list[Example] = []
    groups = list(c.payloads)
    for signal, styles in STYLES.items():
        # jailbreak prompts commonly also ask for the instructions and vice versa
        excl = {"prompt_extraction": ("jailbreak",), "jailbreak": ("prompt_extraction",)}.get(
            signal, ()
        )
        for style, wrap in styles.items():
            for i in range(per_style):
                group = groups[i % len(groups)]
                payload = rng.choice(c.payloads[group])
                text, tools = wrap(rng, payload, c)
                out.append(Example(text, _labels(signal, excl), group, style, tools))
    for group, payloads in c.payloads.items():
        for p in payloads[:1500]:
            out.append(Example(p, _labels(), group, "bare"))
    for style, make in HARD_NEGATIVES.items():
        for i in range(per_style):
            group = groups[i % len(groups)]
            text, tools = make(rng, rng.choice(c.payloads[group]), c)
            out.append(Example(text, _labels(), group, style, tools))
    for text in c.attacks.get("tt_extraction", []):
        out.append(
            Example(text, _labels("prompt_extraction", ("jailbreak",)), "tt_extraction", "attack")
        )
    for text in c.attacks.get("tt_hijacking", []):
        out.append(
            Example(text, _labels("jailbreak", ("prompt_extraction",)), "tt_hijacking", "attack")
        )
    # Examples for one signal only, from their own random stream: the examples above, and
    # so the other signals' models, are the same with or without them.
    only = random.Random(f"{seed}:signal-only")
    for signal, one_signal in K.SIGNAL_ONLY.items():
        for style, (wrap, label) in one_signal.items():
            labels = {**dict.fromkeys(SIGNAL_NAMES, -1), signal: label}
            for i in range(per_style):
                group = groups[i % len(groups)]
                text, tools = wrap(only, only.choice(c.payloads[group]), c)
                out.append(Example(text, labels, group, style, tools))
    return out


def is_held_out(ex: Example, signal: str) -> bool:
    """Whether ``ex`` belongs to the evaluation split of ``signal``.

    Held out: payloads from :data:`TEST_PAYLOADS`, wrapper styles in :data:`HELD_OUT_STYLES`
    (of any signal, so that a held-out style never leaks as a negative either), and the real
    attack corpora (extraction and hijacking attacks are never seen in training).
    """
    if ex.group in TEST_PAYLOADS or ex.group in ("tt_extraction", "tt_hijacking"):
        return True
    return any(ex.style in styles for styles in HELD_OUT_STYLES.values())
