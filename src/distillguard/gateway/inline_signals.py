"""Per-request detection signals computed inline (``signals = true``; off by default).

The registry is :data:`distillguard.detect.signals.SIGNALS` (``name -> Signal``); each
signal scores a batch of prompts with their contexts (system prompt and earlier turns) and
returns float32 scores in [0, 1]. The gateway scores a batch of one (the learned signals in
one shared pass) and records the scores in the event's decision (``-1.0`` for a signal that
raised).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from distillguard.gateway.exchange import Exchange

if TYPE_CHECKING:
    from distillguard.detect.signals import Signal

log = logging.getLogger("distillguard.gateway")


def load_signals() -> dict[str, Signal]:
    """The detection signal registry, or ``{}`` (with a warning) when it cannot be imported."""
    try:
        from distillguard.detect.signals import SIGNALS
    except ImportError as exc:
        log.warning("signals: cannot import distillguard.detect.signals (%s); inline off", exc)
        return {}
    return dict(SIGNALS)


def prompt_and_context(ex: Exchange) -> tuple[str | None, str | None]:
    """The request's prompt (last message, or the completion prompt) and its context."""
    if ex.messages:
        texts = [m.content if isinstance(m.content, str) else None for m in ex.messages]
        earlier = [t for t in texts[:-1] if t]
        return texts[-1], ("\n".join(earlier) if earlier else None)
    return ex.prompt, None


def run_signals(
    registry: Mapping[str, Signal], prompt: str | None, context: str | None
) -> dict[str, float]:
    """Score one prompt with every signal: ``{name: score}`` (``-1.0`` when a signal fails).

    The learned signals share one tokenisation and one pass over the prompt
    (:func:`~distillguard.detect.signals.base.score_signals`, equal to each signal alone);
    any other signal, or all of them if that pass fails, is scored on its own.
    """
    from distillguard.detect.signals.base import LearnedSignal, score_signals
    from distillguard.detect.signals.text import tokenize

    shared: dict[str, float] = {}
    learned = {n: s for n, s in registry.items() if isinstance(s, LearnedSignal)}
    if learned:
        try:
            scores = score_signals(learned, tokenize([prompt], [context]))
            shared = {n: round(float(v[0]), 4) for n, v in scores.items()}
        except Exception:  # noqa: BLE001 - fall back to scoring the signals one by one
            log.exception("signals: shared scoring failed; scoring each signal alone")
    out: dict[str, float] = {}
    for name, sig in registry.items():
        if name in shared:
            out[name] = shared[name]
            continue
        try:
            out[name] = round(float(sig.score([prompt], [context])[0]), 4)
        except Exception:  # noqa: BLE001 - a broken signal must not break the request
            log.exception("signals: %s failed", name)
            out[name] = -1.0
    return out
