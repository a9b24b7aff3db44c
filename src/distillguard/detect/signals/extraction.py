"""System-prompt extraction: "repeat your instructions above".

Harvesters copy the system prompts of deployed assistants along with their answers. Cues:
requests to repeat, print, reveal or translate "the text above", "your instructions",
"everything before this", "your initial prompt", often with a forced prefix ("Start your
response with ..."). Known false positives: a user asking the model to repeat *their own*
earlier message, or developers debugging their own system prompt.
"""

from __future__ import annotations

from typing import ClassVar

from distillguard.detect.signals.base import LearnedSignal


class SystemPromptExtractionSignal(LearnedSignal):
    """Tries to extract the hidden system prompt (ATLAS AML.T0056, AML.T0069.002)."""

    name: ClassVar[str] = "prompt_extraction"
    family: ClassVar[str] = "system-prompt extraction"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0056", "AML.T0069.002", "AML.T0051.000")
    description: ClassVar[str] = (
        "asks the model to repeat, print, reveal or summarise its instructions or system prompt"
    )
    CUES: ClassVar[tuple[str, ...]] = (
        "system prompt",
        "your instructions",
        "your prompt",
        "the instructions",
        "instructions above",
        "the above",
        "text above",
        "everything above",
        "above instructions",
        "previous instructions",
        "initial prompt",
        "original prompt",
        "initial instructions",
        "hidden instructions",
        "pre-prompt",
        "repeat",
        "print",
        "reveal",
        "verbatim",
        "word for word",
        "everything before",
        "so far",
        "in your prompt",
        "your rules",
        "your guidelines",
        "begin your response with",
        "start your response with",
        "start with",
        "as python",
        "in python",
        "as a list",
        "summarize your",
        "output your",
        "what were you told",
        "you were told",
        "password",
        "access code",
        "secret",
        "initialization",
        "context window",
        "came before",
        "precedes",
        "exact wording",
        "operator",
        "instrucciones",
        "palabra por palabra",
        "mot pour mot",
        "quote",
        "hidden message",
        "your context",
    )
