"""Anti-distillation options for flagged accounts (what policy can switch on per account).

* :func:`strip_logprobs`: remove ``logprobs``/``top_logprobs`` from a chat completion, so a
  harvester gets no soft labels (dark knowledge) to distil from.
* :func:`summarise_reasoning`: serve a short extractive summary instead of the raw reasoning
  trace, keeping the final answer.
* :func:`scramble_steps`: an answer-preserving perturbation: the intermediate steps of a
  worked answer are served in a keyed shuffled order, the final answer line untouched. The
  customer still gets the correct answer and every step; a student trained on many such
  answers learns from step sequences whose order carries no signal, which lowers its gain
  (measured in ``scripts/watermark_antidistill.py``; see docs/benchmarks.md).

:func:`apply_options` applies the chosen ones to an OpenAI-style response body.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

_SENT = re.compile(r"(?<=[.!?])\s+")
_FINAL = re.compile(r"^\s*(####|final answer|answer:|the answer is)", re.IGNORECASE)


@dataclass(frozen=True)
class AntiDistillOptions:
    """Which protections to apply to a flagged account's responses."""

    strip_logprobs: bool = True
    summarise_reasoning: bool = True
    scramble_steps: bool = False
    summary_sentences: int = 2


def strip_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a chat/completions response without any log-probabilities."""
    out = copy.deepcopy(body)
    for choice in out.get("choices", []) or []:
        if isinstance(choice, dict):
            if "logprobs" in choice:
                choice["logprobs"] = None
            choice.pop("top_logprobs", None)
    return out


def summarise_reasoning(text: str, max_sentences: int = 2) -> str:
    """Replace a reasoning trace by its first and last sentences, keeping the final answer.

    A trace of at most ``max_sentences`` sentences is returned unchanged.
    """
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    final = [ln for ln in lines if _FINAL.match(ln)]
    body = " ".join(ln for ln in lines if not _FINAL.match(ln))
    sents = [s for s in _SENT.split(body) if s]
    if len(sents) <= max_sentences:
        return text
    keep = [sents[0]] + (sents[-(max_sentences - 1) :] if max_sentences > 1 else [])
    summary = "Summary of reasoning: " + " ... ".join(keep)
    return "\n".join([summary, *final])


def scramble_steps(text: str, seed_material: str) -> str:
    """Shuffle the intermediate lines of a worked answer; keep the final answer line last.

    Deterministic for a given ``seed_material`` (e.g. the request id), so retries match.
    """
    lines = text.splitlines()
    finals = [i for i, ln in enumerate(lines) if _FINAL.match(ln)]
    cut = finals[0] if finals else len(lines) - 1
    steps, rest = lines[:cut], lines[cut:]
    if len(steps) < 2:
        return text
    seed = int.from_bytes(hashlib.sha256(seed_material.encode()).digest()[:8], "little")
    order = list(range(len(steps)))
    random.Random(seed).shuffle(order)
    return "\n".join([steps[i] for i in order] + rest)


def apply_options(
    body: dict[str, Any], options: AntiDistillOptions, request_id: str = ""
) -> dict[str, Any]:
    """Apply ``options`` to an OpenAI-style chat completion body (returns a copy)."""
    out = strip_logprobs(body) if options.strip_logprobs else copy.deepcopy(body)
    for choice in out.get("choices", []) or []:
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        if options.summarise_reasoning and isinstance(msg.get("reasoning_content"), str):
            msg["reasoning_content"] = summarise_reasoning(
                msg["reasoning_content"], options.summary_sentences
            )
        if options.scramble_steps and isinstance(msg.get("content"), str):
            msg["content"] = scramble_steps(msg["content"], request_id)
    return out
