"""Prompt wrappers and their paraphrases: the repeated structure a campaign puts around payloads.

A wrapper family is a small grammar: a few *sentences*, each with alternative phrasings whose
``{slots}`` take synonyms, an optional role line, a payload label, and the payload placed
before or after the instructions. Sentences are shuffled, so a family yields thousands of
distinct wrappers: exact matching on the wrapper fails and detection must rely on structure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from distillguard.sim.textgen import fill, pick, py_rng


@dataclass(frozen=True, slots=True)
class Wrapper:
    """One concrete wrapper: text before and after the payload."""

    before: str
    after: str

    def render(self, payload: str) -> str:
        """The full prompt for ``payload``."""
        return f"{self.before}{payload}{self.after}"


@dataclass(frozen=True, slots=True)
class Family:
    """A wrapper grammar (see the module docstring)."""

    roles: tuple[str, ...]
    sentences: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]
    vocab: dict[str, tuple[str, ...]]


_COMMON_VOCAB: dict[str, tuple[str, ...]] = {
    "show": ("Show", "Write out", "Lay out", "Spell out", "Give", "Present", "Provide"),
    "full": ("full", "complete", "entire", "detailed", "internal", "whole", "unabridged"),
    "sbs": ("step by step", "one step at a time", "in detail", "line by line", "thoroughly"),
    "recon": ("Reconstruct", "Recreate", "Write down", "Reproduce", "Articulate", "Narrate"),
    "domain": ("mathematics", "logic", "reasoning", "problem-solving", "STEM", "quantitative"),
    "n": ("1 to 10", "0 to 5", "1 to 7", "0 to 100"),
    "crit": (
        "correctness",
        "helpfulness and accuracy",
        "reasoning quality",
        "factuality",
        "clarity, correctness and completeness",
    ),  # fmt: skip
    "k": ("3", "5", "8", "10", "12"),
}

FAMILIES: dict[str, Family] = {
    "reasoning": Family(
        roles=(
            "",
            "",
            "You are an expert {domain} tutor. ",
            "Act as a meticulous {domain} teacher. ",
            "You are a careful {domain} assistant. ",
        ),  # fmt: skip
        sentences=(
            (
                "{show} your {full} reasoning {sbs} before giving the final answer.",
                "{recon} the {full} chain of thought that leads to the answer.",
                "Think through the problem {sbs} and write out every intermediate step.",
                "Do not skip any step: {show} the {full} derivation.",
                "Before answering, {show} your {full} thought process {sbs}.",
            ),
            (
                "End with 'Final answer:' followed by the answer.",
                "Put the final answer on its own line after ####.",
                "Wrap your reasoning in <thinking> tags and the answer in <answer> tags.",
                "Number each step.",
                "Give the answer last, in bold.",
            ),
            (
                "Be thorough; length is not a concern.",
                "Explain why each step follows.",
                "Double-check your work at the end.",
                "Include any assumptions you make.",
                "",
            ),
        ),  # fmt: skip
        labels=("Problem: ", "Question: ", "Task: ", "", "Input:\n", "### Problem\n"),
        vocab=_COMMON_VOCAB,
    ),
    "rubric": Family(
        roles=(
            "You are a strict grader. ",
            "You are an impartial judge. ",
            "Act as a reward model. ",
            "You are an expert evaluator. ",
        ),  # fmt: skip
        sentences=(
            (
                "Score the response below on a scale of {n} for {crit}.",
                "Rate the candidate answer from {n} on {crit}.",
                "Evaluate the assistant's reply for {crit}, using a {n} scale.",
            ),
            (
                'Return JSON: {{"score": <number>, "rationale": "<why>"}}.',
                "Reply with the score first, then a one-paragraph justification.",
                "Output only the integer score.",
                "Give a short critique, then 'Score: X'.",
            ),
            ("Be consistent across items.", "Penalise unsupported claims.", ""),
        ),  # fmt: skip
        labels=("", "### Item\n", "Input:\n"),
        vocab=_COMMON_VOCAB,
    ),
    "datagen": Family(
        roles=("", "You are a data annotator. ", "You are a synthetic-data generator. "),
        sentences=(
            (
                "Generate {k} diverse question-answer pairs based on the text below.",
                "Write {k} instruction-response examples grounded in the following text.",
                "Create {k} varied training examples (instruction, input, output) from this text.",
            ),
            ("Return them as a JSON list.", "Use the format Q: ... A: ...", "One per line."),
            ("Vary difficulty and phrasing.", "Avoid duplicates.", ""),
        ),  # fmt: skip
        labels=("Text: ", "", "### Source\n"),
        vocab=_COMMON_VOCAB,
    ),
}


def make_wrapper(rng: random.Random, family: str) -> Wrapper:
    """Draw one concrete wrapper from ``family`` (random phrasing, order and placement)."""
    fam = FAMILIES[family]
    role = fill(rng, pick(rng, fam.roles), fam.vocab)
    chosen = [fill(rng, pick(rng, alts), fam.vocab) for alts in fam.sentences]
    chosen = [s for s in chosen if s]
    rng.shuffle(chosen)
    instr = " ".join(chosen)
    label = pick(rng, fam.labels)
    sep = pick(rng, ("\n\n", "\n", "\n\n---\n"))
    if rng.random() < 0.6:
        return Wrapper(before=f"{role}{instr}{sep}{label}", after="")
    return Wrapper(before=label, after=f"{sep}{role}{instr}")


def wrapper_set(rng: np.random.Generator, family: str, count: int) -> list[Wrapper]:
    """``count`` wrappers of ``family`` (distinct in practice when ``count`` > 1)."""
    r = py_rng(rng)
    out: list[Wrapper] = []
    seen: set[Wrapper] = set()
    tries = 0
    while len(out) < count and tries < count * 20:
        w = make_wrapper(r, family)
        tries += 1
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


#: evaluation-harness prompt formats: fixed per harness (legitimate, never paraphrased).
EVAL_FORMATS: tuple[tuple[str, str], ...] = (
    ("Question: ", "\nLet's think step by step."),
    ("", "\n\nSolve the problem. Think step by step, then give the final answer after '####'."),
    ("Q: ", "\nA: Let's think step by step."),
    ("Solve the following math problem step by step. The last line of your response should be "
     "of the form Answer: $ANSWER.\n\n", ""),
)  # fmt: skip
