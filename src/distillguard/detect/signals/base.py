"""The signal seam: a per-request classifier that scores prompts in batches.

To write a new signal, implement :class:`Signal`: fixed metadata as ``ClassVar``s (``name``
becomes the column ``sig_<name>``; ``atlas`` lists MITRE ATLAS technique ids), ``score`` for
a batch of raw prompts, ``score_batch`` for an already tokenised :class:`TokenBatch` (so that
every signal shares one tokenisation pass), and ``explain`` for the evidence behind one
prompt's score. Scores are float32 in [0, 1]; a prompt without text (privacy mode) scores 0
from a signal that ``needs_text``. Register the instance in
:data:`distillguard.detect.signals.registry.SIGNALS`.

:class:`LearnedSignal` is the reference implementation (hashed n-grams + curated cue phrases
+ logistic regression, inference in numpy); :class:`PhraseSignal` is the in-memory fake used
by tests of code that consumes signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from distillguard.detect.signals.cues import CueTable, cue_table
from distillguard.detect.signals.model import LinearModel, load_model
from distillguard.detect.signals.text import TokenBatch, tokenize

F32 = npt.NDArray[np.float32]


@runtime_checkable
class Signal(Protocol):
    """A per-request signal. See the module docstring for how to implement one."""

    name: ClassVar[str]
    family: ClassVar[str]
    needs_text: ClassVar[bool]
    atlas: ClassVar[tuple[str, ...]]
    description: ClassVar[str]

    def score(self, prompts: Sequence[str | None], contexts: Sequence[str | None]) -> F32:
        """Score a batch of prompts (with their contexts); float32 in [0, 1]."""
        ...

    def score_batch(self, batch: TokenBatch) -> F32:
        """Score an already tokenised batch."""
        ...

    def explain(self, prompt: str, context: str | None = None) -> list[str]:
        """Human-readable cues behind the score of one prompt (strongest first)."""
        ...


class LearnedSignal:
    """Reference signal: a logistic regression over hashed word n-grams and cue phrases.

    Subclasses set the metadata ``ClassVar``s and ``CUES`` (phrases of 1–4 words whose
    presence is evidence for the family). The shipped model (``artefacts/<name>.npz``, made
    by ``scripts/train_signals.py``) gives each cue and each hashed n-gram a learned weight;
    :meth:`explain` lists the matched cues and the n-grams that pushed the score up.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    needs_text: ClassVar[bool] = True
    atlas: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    CUES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: LinearModel | None = None) -> None:
        self._model = model

    @property
    def model(self) -> LinearModel:
        """The trained model (loaded from the package on first use)."""
        if self._model is None:
            self._model = load_model(self.name)
        return self._model

    def score(self, prompts: Sequence[str | None], contexts: Sequence[str | None]) -> F32:
        """Score raw prompts; see :class:`Signal`."""
        return self.score_batch(tokenize(prompts, contexts))

    def score_batch(self, batch: TokenBatch) -> F32:
        """Score a tokenised batch."""
        p = self.model.predict(batch)
        p = self.adjust(batch, p)
        p[~batch.has_text] = 0.0
        return np.clip(p, 0.0, 1.0).astype(np.float32)

    def adjust(self, batch: TokenBatch, p: F32) -> F32:
        """Hook for evidence outside the text (tool schemas, ...); identity by default."""
        return p

    def explain(self, prompt: str, context: str | None = None) -> list[str]:
        """Matched cues and the strongest positive n-grams of one prompt."""
        return self.model.explain(prompt)


class PhraseSignal:
    """An in-memory fake: scores 1.0 when any of ``phrases`` occurs, else 0.0.

    Used by tests of code that consumes signals (annotation, features) without depending on
    trained artefacts.
    """

    needs_text: ClassVar[bool] = True
    atlas: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = "test fake: fires on fixed phrases"
    family: ClassVar[str] = "fake"
    name: ClassVar[str] = "fake"

    def __init__(self, phrases: Sequence[str]) -> None:
        self._cues: CueTable = cue_table(tuple(phrases))

    def score(self, prompts: Sequence[str | None], contexts: Sequence[str | None]) -> F32:
        """See :class:`Signal`."""
        return self.score_batch(tokenize(prompts, contexts))

    def score_batch(self, batch: TokenBatch) -> F32:
        """See :class:`Signal`."""
        rows, _ = self._cues.match(batch)
        out = np.zeros(batch.n, dtype=np.float32)
        out[rows] = 1.0
        return out

    def explain(self, prompt: str, context: str | None = None) -> list[str]:
        """See :class:`Signal`."""
        return self._cues.matched_phrases(prompt)
