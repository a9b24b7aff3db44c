"""The explicit registry of per-request signals and the language annotator."""

from __future__ import annotations

from distillguard.detect.signals.base import Signal
from distillguard.detect.signals.capability import CapabilitySweepSignal
from distillguard.detect.signals.extraction import SystemPromptExtractionSignal
from distillguard.detect.signals.jailbreak import JailbreakSignal
from distillguard.detect.signals.language import LanguageAnnotator, ScriptStopwordLanguage
from distillguard.detect.signals.reasoning import ReasoningTraceSignal
from distillguard.detect.signals.rubric import RubricGradingSignal
from distillguard.detect.signals.synthetic import SyntheticDataSignal

#: name -> signal. The column of a signal in ``prompt_signals`` is ``sig_<name>``.
SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        ReasoningTraceSignal(),
        RubricGradingSignal(),
        SyntheticDataSignal(),
        CapabilitySweepSignal(),
        SystemPromptExtractionSignal(),
        JailbreakSignal(),
    )
}

#: The ``prompt_signals`` columns, one per registered signal, in registry order.
SIGNAL_COLUMNS: tuple[str, ...] = tuple(f"sig_{name}" for name in SIGNALS)

#: The language annotator used by :func:`distillguard.detect.annotate.annotate_prompts`.
LANGUAGE: LanguageAnnotator = ScriptStopwordLanguage()
