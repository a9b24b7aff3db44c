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

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from distillguard.detect.signals import kernels
from distillguard.detect.signals.cues import CueTable, cue_table
from distillguard.detect.signals.model import (
    LinearModel,
    cue_matches,
    distinct_scale,
    hashed_features,
    length_scale,
    load_model,
)
from distillguard.detect.signals.text import NGRAM_MUL, TokenBatch, tokenize

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
        """Score a tokenised batch (the compiled path of :func:`score_signals`; the numpy
        reference is ``self.model.predict`` then :meth:`adjust`)."""
        return score_signals({self.name: self}, batch)[self.name]

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


_CHUNK = 1 << 20
_T = TypeVar("_T")
#: Per model set: the models themselves (an id is reused once its object is freed, so a hit
#: must be the same objects) and what was derived from them.
_STACKS: dict[tuple[int, ...], tuple[tuple[LinearModel, ...], npt.NDArray[np.float32]]] = {}
_MAX_SETS = 16


def _per_models(
    cache: dict[tuple[int, ...], tuple[tuple[LinearModel, ...], _T]],
    models: Sequence[LinearModel],
    build: Callable[[], _T],
) -> _T:
    """``build()`` once per set of model *objects*, cached while they are the same objects.

    Keyed by ``id``s, checked by identity: a model loaded again (after retraining, or a
    user's model replacing a freed one) can get a freed model's id, and must not be scored
    with the freed model's weights. Holds at most ``_MAX_SETS`` sets (oldest dropped).
    """
    key = tuple(id(m) for m in models)
    hit = cache.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], models, strict=True)):
        return hit[1]
    value = build()
    # annotate scores parts of a batch on threads: list() copies the keys in one step, and
    # pop(k, None) tolerates another thread having dropped the same set first
    for old in list(cache)[: max(0, len(cache) - _MAX_SETS + 1)]:
        cache.pop(old, None)
    cache[key] = (tuple(models), value)
    return value


def _stacked_hash_logits(batch: TokenBatch, models: Sequence[LinearModel]) -> F32:
    """Hashed-n-gram logits of several models at once (same size, normalisation and tf),
    length weight included: one gather and one segment sum."""
    w = _per_models(
        _STACKS,
        models,
        lambda: np.ascontiguousarray(np.stack([m.w_hash for m in models], axis=1), np.float32),
    )
    dim, norm, tf = models[0].dim, models[0].norm_tokens, models[0].tf
    mask = np.uint64(dim - 1)
    out: F32
    if kernels.HAVE_NUMBA and tf == "log":
        out, distinct = kernels.ngram_logits_log(
            batch.tok, batch.parent, batch.n, w, np.uint64(20), mask, NGRAM_MUL
        )
        out *= distinct_scale(distinct, norm)[:, None]
        return out
    if kernels.HAVE_NUMBA:
        out = kernels.ngram_logits(
            batch.tok, batch.parent, batch.n, w, np.uint64(20), mask, NGRAM_MUL
        )
        out *= length_scale(batch, norm)[:, None]
        return out
    # numpy: the scaled features (rows sorted), summed per prompt chunk by chunk
    h = hashed_features(batch, dim, norm, tf)
    out = np.zeros((batch.n, len(models)), dtype=np.float32)
    for lo in range(0, h.row.size, _CHUNK):
        pp = h.row[lo : lo + _CHUNK]
        starts = np.flatnonzero(np.r_[True, pp[1:] != pp[:-1]])
        part = w[h.col[lo : lo + _CHUNK]] * h.val[lo : lo + _CHUNK, None]
        np.add.at(out, pp[starts], np.add.reduceat(part, starts, axis=0))
    return out


_UNIONS: dict[
    tuple[int, ...],
    tuple[tuple[LinearModel, ...], tuple[CueTable, npt.NDArray[np.float32]]],
] = {}


def _union_cues(models: Sequence[LinearModel]) -> tuple[CueTable, npt.NDArray[np.float32]]:
    """One cue table for several models and their weights over it (phrases x models)."""

    def build() -> tuple[CueTable, npt.NDArray[np.float32]]:
        phrases = tuple(dict.fromkeys(p for m in models for p in m.cues.phrases))
        index = {p: i for i, p in enumerate(phrases)}
        w = np.zeros((len(phrases), len(models)), dtype=np.float32)
        for j, m in enumerate(models):
            for i, p in enumerate(m.cues.phrases):
                w[index[p], j] = m.w_cue[i]
        return cue_table(phrases), w

    return _per_models(_UNIONS, models, build)


def score_signals(signals: Mapping[str, Signal], batch: TokenBatch) -> dict[str, F32]:
    """Score a batch with every signal, sharing work between learned signals.

    Learned signals with models of the same size, normalisation and tf mode are scored
    together (one pass over a stacked weight matrix); any other signal is scored on its own.
    A learned signal's result equals its numpy reference (``model.predict``, then
    ``adjust``); :meth:`LearnedSignal.score_batch` is this function with one signal.
    """
    out: dict[str, F32] = {}
    learned = {n: s for n, s in signals.items() if isinstance(s, LearnedSignal)}
    by_dim: dict[tuple[int, int, str], list[str]] = {}
    for name, sig in learned.items():
        m = sig.model
        by_dim.setdefault((m.dim, m.norm_tokens, m.tf), []).append(name)
    for names in by_dim.values():
        models = [learned[n].model for n in names]
        z = _stacked_hash_logits(batch, models)
        union, wc = _union_cues(models)
        crow, cid = cue_matches(batch, union)
        if crow.size:
            np.add.at(z, crow, wc[cid])
        for j, name in enumerate(names):
            zj = z[:, j].astype(np.float64) + models[j].bias
            p = (1.0 / (1.0 + np.exp(-np.clip(zj, -30.0, 30.0)))).astype(np.float32)
            p = learned[name].adjust(batch, p)
            p[~batch.has_text] = 0.0
            out[name] = np.clip(p, 0.0, 1.0).astype(np.float32)
    for name, other in signals.items():
        if name not in out:
            out[name] = other.score_batch(batch)
    return {name: out[name] for name in signals}
