"""The explicit registry of detection schemes, the ``Scheme`` protocol and a fake.

Every scheme's detector satisfies :class:`Scheme`: a ``name`` and ``detect(content) ->
Detection``. Token-level detectors are built with ``(key, tokenizer)``; the lexical one with
``(key)``. Schemes that need torch are registered by import path and loaded on first use, so
importing this module stays light.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Protocol, runtime_checkable

from distillguard.errors import WatermarkError
from distillguard.watermark.base import Detection

#: scheme name -> "module:Class" of its detector.
SCHEMES: dict[str, str] = {
    "kgw": "distillguard.watermark.kgw:KGWDetector",
    "unigram": "distillguard.watermark.kgw:UnigramDetector",
    "synthid": "distillguard.watermark.synthid:SynthIDDetector",
    "lexical": "distillguard.watermark.lexical:LexicalWatermark",
}


@runtime_checkable
class Scheme(Protocol):
    """What every detector offers."""

    name: ClassVar[str]

    def detect(self, content: Any) -> Detection:
        """Test ``content`` (text or token ids) for this detector's key."""
        ...


def detector_class(name: str) -> type[Any]:
    """Return the detector class registered as ``name``."""
    target = SCHEMES.get(name)
    if target is None:
        raise WatermarkError(
            f"unknown watermark scheme {name!r}; known: {', '.join(sorted(SCHEMES))}"
        )
    module, _, attr = target.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), attr)
    return cls


class FakeDetector:
    """In-memory fake for tests of code that consumes detections (gateway, console).

    Returns a fixed p-value for every input and counts calls.
    """

    name: ClassVar[str] = "fake"

    def __init__(self, p_value: float = 0.5, key_id: str = "wk_fake") -> None:
        self.p_value = p_value
        self.key_id = key_id
        self.calls = 0

    def detect(self, content: Any) -> Detection:
        """Return the configured result; ``tokens_seen`` is the input's length."""
        self.calls += 1
        n = len(content)
        return Detection(
            scheme=self.name,
            key_id=self.key_id,
            p_value=self.p_value,
            z=0.0,
            tokens_seen=n,
            tokens_scored=n,
            green_count=0,
            trials=n,
            null_rate=0.25,
            insufficient=n < 25,
        )
