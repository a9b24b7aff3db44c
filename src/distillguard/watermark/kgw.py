"""KGW green-list watermark (Kirchenbauer et al., 2023) and Unigram (Zhao et al., 2023).

A token is *green* when a keyed hash of (its context, itself) falls in the lowest ``gamma``
fraction of hash space. Generation adds ``delta`` to green logits (see
:mod:`distillguard.watermark.processors`); detection counts green tokens among the unique
(window, token) tuples of a text and computes an exact binomial tail.

Seeding:
    ``left``: the context is the ``h`` tokens before the token (order-sensitive hash).
    ``self``: the context is the minimum keyed hash over the ``h`` previous tokens *and the
    token itself* (the "self-hash"/anchored min-hash variant), more robust to edits.
    ``h = 0`` is Unigram: one fixed green list for the whole vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from distillguard.errors import WatermarkError
from distillguard.watermark import hashing
from distillguard.watermark.base import (
    DEFAULT_MIN_TOKENS,
    Detection,
    TokenDetector,
    TupleScores,
    select_scored,
)
from distillguard.watermark.keys import WatermarkKey
from distillguard.watermark.tokenizer import TokenizerLike

Seeding = Literal["left", "self"]


@dataclass(frozen=True)
class KGWParams:
    """Parameters of a green-list watermark.

    Attributes:
        gamma: green fraction of the vocabulary (0 < gamma < 1).
        delta: logit bias added to green tokens at generation.
        context_width: tokens of context ``h`` hashed into the green list (0 = Unigram).
        seeding: ``left`` or ``self`` (see module docstring).
    """

    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1
    seeding: Seeding = "left"

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise WatermarkError(f"gamma must be in (0, 1), got {self.gamma}")
        if self.context_width < 0 or self.context_width > 8:
            raise WatermarkError(f"context_width must be 0..8, got {self.context_width}")
        if self.seeding not in ("left", "self"):
            raise WatermarkError(f"seeding must be 'left' or 'self', got {self.seeding!r}")
        if self.seeding == "self" and self.context_width == 0:
            raise WatermarkError("self-hash seeding needs context_width >= 1")


def green_of_sequence(
    ids: NDArray[np.uint64], key: WatermarkKey, params: KGWParams
) -> NDArray[np.bool_]:
    """Green flag of each token ``ids[h:]`` given its preceding window (vectorised)."""
    h = params.context_width
    thr = hashing.threshold(params.gamma)
    tokens = ids[h:]
    if tokens.size == 0:
        return np.zeros(0, dtype=np.bool_)
    if params.seeding == "left":
        ctx = hashing.context_hashes(ids, h, key.word(0))
    else:
        th = hashing.token_hashes(ids, key.word(0))
        ctx = th[h:].copy()
        for back in range(1, h + 1):
            np.minimum(ctx, th[h - back : ids.size - back], out=ctx)
    return hashing.pair_hashes(ctx, tokens, key.word(1)) < thr


def green_of_vocab(
    window: NDArray[np.uint64], vocab_size: int, key: WatermarkKey, params: KGWParams
) -> NDArray[np.bool_]:
    """Green flag of every vocabulary token as the next token after ``window`` (h tokens)."""
    h = params.context_width
    thr = hashing.threshold(params.gamma)
    vocab = np.arange(vocab_size, dtype=np.uint64)
    if params.seeding == "left":
        ctx = hashing.context_hashes(
            np.concatenate([window[-h:] if h else window[:0], vocab[:1]]), h, key.word(0)
        )
        return hashing.pair_hashes(ctx, vocab, key.word(1)) < thr
    m = hashing.token_hashes(window[-h:], key.word(0)).min(initial=np.iinfo(np.uint64).max)
    anchor = np.minimum(hashing.token_hashes(vocab, key.word(0)), np.uint64(m))
    return hashing.pair_hashes(anchor, vocab, key.word(1)) < thr


class KGWDetector(TokenDetector):
    """Green-list detector: exact binomial test on unique (window, token) tuples.

    Args:
        key: the key (scheme ``kgw`` or ``unigram``).
        tokenizer: tokenizer of the generating model (for text input and fingerprint check).
        params: the parameters used at generation (gamma and window/seeding must match).
        min_tokens: scored tuples below which the result is flagged insufficient.
    """

    name: ClassVar[str] = "kgw"

    def __init__(
        self,
        key: WatermarkKey,
        tokenizer: TokenizerLike | Any | None = None,
        params: KGWParams | None = None,
        *,
        min_tokens: int = DEFAULT_MIN_TOKENS,
    ) -> None:
        super().__init__(key, tokenizer, min_tokens=min_tokens)
        self.params = params or KGWParams()

    @property
    def null_rate(self) -> float:
        """Green probability of a token on unwatermarked text (gamma)."""
        return self.params.gamma

    @property
    def context_width(self) -> int:
        """The window width h."""
        return self.params.context_width

    def green_flags(self, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Green flag per position ``h..`` (no de-duplication), e.g. to colour a text."""
        return green_of_sequence(hashing.as_words(ids), self.key, self.params)

    def score(self, ids: NDArray[np.int64], start: int) -> TupleScores:
        """Score every position with a full window; tuples ending before ``start`` are prompt."""
        h = self.params.context_width
        words = hashing.as_words(ids)
        green = green_of_sequence(words, self.key, self.params)
        tids = hashing.tuple_ids(words, h)
        positions = np.arange(h, max(words.size, h), dtype=np.int64)
        return TupleScores(
            tuple_ids=tids,
            hits=green.astype(np.int64),
            in_prompt=positions < start,
            tokens_seen=max(int(words.size) - start, 0),
        )

    def score_predictions(
        self, ids: NDArray[np.int64], preds: NDArray[np.int64], start: int = 0
    ) -> TupleScores:
        """Score a model's predictions on our text (open-weights radioactivity audit).

        ``preds[i]`` is the suspect's top-1 prediction for position ``i + 1`` of ``ids``.
        Each scored tuple is (the real window before position i, the *predicted* token), so a
        model that learned our green lists predicts green tokens more often than gamma.
        Windows inside the prompt (``start``) are marked in_prompt, and so are *copied*
        predictions: a (window, predicted token) tuple that already occurred as a real tuple
        earlier in the visible text. Those were chosen green by our watermark when the text
        was generated, so a clean model that merely copies from its context would predict
        green more often than gamma; excluding them keeps the null exact.
        """
        h = self.params.context_width
        words = hashing.as_words(ids)
        n = words.size
        first = max(h, 1)
        if n <= first or preds.size < n - 1:
            empty = np.zeros(0, dtype=np.uint64)
            return TupleScores(
                empty, np.zeros(0, np.int64), np.zeros(0, np.bool_), max(n - start, 0)
            )
        cand = hashing.as_words(preds[first - 1 : n - 1])
        if self.params.seeding == "left":
            ctx = hashing.context_hashes(words, h, self.key.word(0))[first - h :]
        else:
            th = hashing.token_hashes(words, self.key.word(0))
            ctx = hashing.token_hashes(cand, self.key.word(0))
            for back in range(1, h + 1):
                np.minimum(ctx, th[first - back : n - back], out=ctx)
        thr = hashing.threshold(self.params.gamma)
        green = hashing.pair_hashes(ctx, cand, self.key.word(1)) < thr
        # tuple identity = (real window, predicted token), hashed like tuple_ids
        tids = hashing.mix64(cand ^ np.uint64(0x5BD1E995))
        for back in range(1, h + 1):
            tids = hashing.mix64(tids ^ words[first - back : n - back])
        positions = np.arange(first, n, dtype=np.int64)
        return TupleScores(
            tids,
            green.astype(np.int64),
            (positions < start) | _copied(tids, hashing.tuple_ids(words, h)[first - h :]),
            max(n - start, 0),
        )

    def detect_predictions(
        self,
        texts: list[NDArray[np.int64]],
        preds: list[NDArray[np.int64]],
        *,
        starts: list[int] | None = None,
        partial: bool = False,
        note: str = "",
    ) -> Detection:
        """Pool :meth:`score_predictions` over many texts into one exact test."""
        parts = [
            self.score_predictions(t, p, 0 if starts is None else starts[i])
            for i, (t, p) in enumerate(zip(texts, preds, strict=True))
        ]
        pooled = TupleScores(
            np.concatenate([q.tuple_ids for q in parts]) if parts else np.zeros(0, np.uint64),
            np.concatenate([q.hits for q in parts]) if parts else np.zeros(0, np.int64),
            np.concatenate([q.in_prompt for q in parts]) if parts else np.zeros(0, np.bool_),
            sum(q.tokens_seen for q in parts),
        )
        n, green = select_scored(pooled)
        return self._result(n, green, pooled.tokens_seen, len(texts), partial, note)


def _copied(pred_tids: NDArray[np.uint64], real_tids: NDArray[np.uint64]) -> NDArray[np.bool_]:
    """True where ``pred_tids[i]`` equals some ``real_tids[j]`` with ``j < i`` (visible)."""
    if real_tids.size == 0:
        return np.zeros(pred_tids.size, dtype=np.bool_)
    uniq, first_at = np.unique(real_tids, return_index=True)
    idx = np.minimum(np.searchsorted(uniq, pred_tids), uniq.size - 1)
    found = uniq[idx] == pred_tids
    copied: NDArray[np.bool_] = found & (first_at[idx] < np.arange(pred_tids.size))
    return copied


class UnigramDetector(KGWDetector):
    """Unigram watermark (h = 0): one fixed keyed green list; each distinct token counts once."""

    name: ClassVar[str] = "unigram"

    def __init__(
        self,
        key: WatermarkKey,
        tokenizer: TokenizerLike | Any | None = None,
        params: KGWParams | None = None,
        *,
        min_tokens: int = DEFAULT_MIN_TOKENS,
    ) -> None:
        p = params or KGWParams(context_width=0)
        if p.context_width != 0:
            raise WatermarkError("Unigram is KGW with context_width 0")
        super().__init__(key, tokenizer, p, min_tokens=min_tokens)
