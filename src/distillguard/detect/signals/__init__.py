"""Per-request signals: weak, explainable evidence that a prompt serves a distillation tactic.

Each signal scores a batch of prompts in [0, 1]; scores are aggregated per account and per
cluster later (no single prompt is proof). See ``docs/signals.md``.
"""

from __future__ import annotations

from distillguard.detect.signals.base import LearnedSignal, PhraseSignal, Signal
from distillguard.detect.signals.language import LanguageAnnotator, ScriptStopwordLanguage
from distillguard.detect.signals.registry import LANGUAGE, SIGNAL_COLUMNS, SIGNALS
from distillguard.detect.signals.text import TokenBatch, tokenize

__all__ = [
    "LANGUAGE",
    "SIGNALS",
    "SIGNAL_COLUMNS",
    "LanguageAnnotator",
    "LearnedSignal",
    "PhraseSignal",
    "ScriptStopwordLanguage",
    "Signal",
    "TokenBatch",
    "tokenize",
]
