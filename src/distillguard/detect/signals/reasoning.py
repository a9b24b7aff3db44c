"""Reasoning-trace elicitation: prompts that ask for the model's full chain of thought.

Distillation of reasoning models needs the intermediate reasoning, not just the answer, so
campaigns wrap each payload in "show your full reasoning", "think step by step and write out
every step", "put your thinking inside <think> tags". A legitimate user asking to "explain
step by step" is the main false positive; the learned weights keep a single generic
"step by step" below the threshold while the cue phrases about *internal* reasoning, traces
and exhaustive detail push the score up.
"""

from __future__ import annotations

from typing import ClassVar

from distillguard.detect.signals.base import LearnedSignal


class ReasoningTraceSignal(LearnedSignal):
    """Asks for a verbatim, complete reasoning trace (ATLAS AML.T0024.002, AML.T0005.001)."""

    name: ClassVar[str] = "reasoning_trace"
    family: ClassVar[str] = "reasoning-trace elicitation"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0024.002", "AML.T0005.001", "AML.T0040")
    description: ClassVar[str] = (
        "asks the model to write out its full or internal reasoning, chain of thought or "
        "thinking trace, often in a fixed format"
    )
    CUES: ClassVar[tuple[str, ...]] = (
        "step by step",
        "chain of thought",
        "your reasoning",
        "full reasoning",
        "internal reasoning",
        "reasoning process",
        "reasoning trace",
        "thought process",
        "thinking process",
        "show your work",
        "show all your work",
        "every step",
        "each step",
        "intermediate steps",
        "think aloud",
        "think out loud",
        "inner monologue",
        "scratchpad",
        "think",
        "reasoning",
        "rationale",
        "before answering",
        "before giving",
        "final answer",
        "verbatim",
        "do not skip",
        "don't skip",
        "in full detail",
        "explain your thinking",
        "walk through",
        "let's think",
        "derivation",
        "thoughts",
        "thinking",
        "deliberation",
        "intermediate",
        "inference",
        "dead ends",
        "write down",
        "explicitly",
        "razonamiento",
        "raisonnement",
        "denkprozess",
        "paso a paso",
        "étape par étape",
        "schritt für schritt",
        "hidden reasoning",
        "all of your thinking",
    )
