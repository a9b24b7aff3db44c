"""The one interface every watermark scheme implements, and its typed result.

A scheme has two halves that never share state other than the key:

* an *embedder* that marks text while it is produced (a ``transformers`` LogitsProcessor
  for logit-level schemes, a text rewriter for the text-level scheme);
* a *detector* that needs only the key and the tokenizer (never the model) and returns a
  :class:`Detection`.

Writing a new token-level detector: subclass :class:`TokenDetector`, set ``name``, and
implement :meth:`TokenDetector.score`, returning one row per scored (window, token) tuple.
The base class handles prompts, de-duplication, exact p-values, pooling across documents
and the insufficient-evidence flags, so every scheme reports the same way.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from distillguard.errors import WatermarkError
from distillguard.watermark import stats
from distillguard.watermark.keys import WatermarkKey
from distillguard.watermark.tokenizer import HFTokenizer, TokenizerLike

#: below this many scored tuples a p-value is reported but flagged ``insufficient``.
DEFAULT_MIN_TOKENS = 25


@dataclass(frozen=True)
class Detection:
    """Result of testing one text (or one pooled corpus) for one key.

    Attributes:
        scheme: scheme name.
        key_id: public id of the key tested (never the key).
        p_value: exact one-sided p-value of "no watermark" (1.0 when nothing was scored).
        z: normal-approximation z-score, for readers used to it.
        tokens_seen: tokens in the text(s) after the prompt.
        tokens_scored: unique (window, token) tuples scored, excluding prompt windows.
        green_count: hits among the scored tuples (green tokens; g-values summed for SynthID).
        trials: Bernoulli trials behind ``green_count`` (tokens_scored x layers for SynthID).
        null_rate: hit probability per trial without a watermark.
        insufficient: fewer tuples were scored than the detector's minimum.
        partial: some input could not be scored (failed queries, truncated text).
        note: plain-language explanation of any flag.
        documents: number of documents pooled (1 for a single text).
    """

    scheme: str
    key_id: str
    p_value: float
    z: float
    tokens_seen: int
    tokens_scored: int
    green_count: int
    trials: int
    null_rate: float
    insufficient: bool
    partial: bool = False
    note: str = ""
    documents: int = 1

    @property
    def green_fraction(self) -> float:
        """Hits per trial (compare with ``null_rate``)."""
        return self.green_count / self.trials if self.trials else 0.0

    def randomized_p(self, u: float) -> float:
        """Randomised p-value (exactly uniform without a watermark) for calibration checks.

        Args:
            u: a Uniform(0, 1) draw, from a seeded generator.
        """
        return stats.binomial_randomized_pvalue(self.green_count, self.trials, self.null_rate, u)

    def significant(self, alpha: float) -> bool:
        """True when the p-value is below ``alpha`` and enough tokens were scored."""
        return not self.insufficient and self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["green_fraction"] = self.green_fraction
        return out


@dataclass(frozen=True)
class TupleScores:
    """Per-tuple scores of one document, before de-duplication.

    Attributes:
        tuple_ids: identity of each (window, token) tuple, in text order.
        hits: hits per tuple (0/1 for green lists; 0..layers for SynthID).
        in_prompt: True where the tuple's token is part of the prompt.
        tokens_seen: tokens after the prompt.
    """

    tuple_ids: NDArray[np.uint64]
    hits: NDArray[np.int64]
    in_prompt: NDArray[np.bool_]
    tokens_seen: int


def _n_unique(values: NDArray[np.uint64]) -> int:
    if values.size == 0:
        return 0
    v = np.sort(values)
    return int(1 + np.count_nonzero(v[1:] != v[:-1]))


def select_scored(scores: TupleScores) -> tuple[int, int]:
    """Count unique completion tuples not seen in the prompt, and their hits.

    A tuple's hits are a function of the tuple (same window and token, same key, same
    answer), so the hits of the unique tuples are obtained by counting unique tuples among
    those with each hit value: two sorts instead of an argsort, which keeps the detector
    fast on millions of tokens.

    Returns:
        (number of unique scored tuples, total hits over them).
    """
    keep = ~scores.in_prompt
    prompt_ids = scores.tuple_ids[scores.in_prompt]
    if prompt_ids.size:
        keep &= ~np.isin(scores.tuple_ids, prompt_ids)
    tids = scores.tuple_ids[keep]
    hits = scores.hits[keep]
    n = _n_unique(tids)
    total = 0
    for value in np.unique(hits[hits > 0]) if hits.size else ():
        total += int(value) * _n_unique(tids[hits == value])
    return n, total


class TokenDetector(abc.ABC):
    """Base class of token-level detectors (KGW, Unigram, SynthID).

    Args:
        key: the key to test for; its tokenizer fingerprint must match ``tokenizer``.
        tokenizer: tokenizer used to turn text into ids (needed only for text input).
        min_tokens: scored tuples below which a result is flagged insufficient.
    """

    name: ClassVar[str] = ""
    #: hits per scored tuple are out of this many trials.
    trials_per_tuple: int = 1

    def __init__(
        self,
        key: WatermarkKey,
        tokenizer: TokenizerLike | Any | None = None,
        *,
        min_tokens: int = DEFAULT_MIN_TOKENS,
    ) -> None:
        self.key = key
        self.tokenizer = None if tokenizer is None else HFTokenizer.wrap(tokenizer)
        if (
            self.tokenizer is not None
            and key.tokenizer_fingerprint
            and key.tokenizer_fingerprint != self.tokenizer.fingerprint
        ):
            raise WatermarkError(
                f"key {key.key_id} was made for tokenizer {key.tokenizer_fingerprint}, "
                f"but the detector was given tokenizer {self.tokenizer.fingerprint}: "
                "detect with the tokenizer of the model that generated the text"
            )
        self.min_tokens = min_tokens

    @property
    @abc.abstractmethod
    def null_rate(self) -> float:
        """Probability of a hit per trial on unwatermarked text."""

    @property
    @abc.abstractmethod
    def context_width(self) -> int:
        """Tokens of context each scored token needs."""

    @abc.abstractmethod
    def score(self, ids: NDArray[np.int64], start: int) -> TupleScores:
        """Score every position of ``ids`` that has a full window; ``ids[:start]`` is prompt."""

    def to_ids(self, content: str | Sequence[int] | NDArray[np.int64]) -> NDArray[np.int64]:
        """Token ids of a text (through the tokenizer) or of an id sequence."""
        if isinstance(content, str):
            if self.tokenizer is None:
                raise WatermarkError(f"{self.name} detector needs a tokenizer to score text")
            return np.asarray(self.tokenizer.encode(content), dtype=np.int64)
        return np.asarray(content, dtype=np.int64).reshape(-1)

    def _scores(
        self,
        content: str | Sequence[int] | NDArray[np.int64],
        prompt: str | Sequence[int] | NDArray[np.int64] | None,
    ) -> TupleScores:
        ids = self.to_ids(content)
        start = 0
        if prompt is not None:
            pids = self.to_ids(prompt)
            start = int(pids.size)
            ids = np.concatenate([pids, ids])
        return self.score(ids, start)

    def detect(
        self,
        content: str | Sequence[int] | NDArray[np.int64],
        *,
        prompt: str | Sequence[int] | NDArray[np.int64] | None = None,
    ) -> Detection:
        """Test one text (or token ids) for this key's watermark.

        Args:
            content: the generated text or its token ids.
            prompt: the prompt it answered, if known: its windows are then excluded.
        """
        return self.detect_corpus([content], prompts=None if prompt is None else [prompt])

    def detect_corpus(
        self,
        documents: Sequence[str | Sequence[int] | NDArray[np.int64]],
        *,
        prompts: Sequence[str | Sequence[int] | NDArray[np.int64] | None] | None = None,
        partial: bool = False,
        note: str = "",
    ) -> Detection:
        """Test many documents at once, pooling unique tuples across all of them.

        Pooling (rather than combining per-document p-values) keeps the test exact when
        documents share tuples: each (window, token) tuple counts once in the whole corpus.
        """
        if prompts is not None and len(prompts) != len(documents):
            raise WatermarkError(f"{len(prompts)} prompts given for {len(documents)} documents")
        all_t: list[NDArray[np.uint64]] = []
        all_h: list[NDArray[np.int64]] = []
        all_p: list[NDArray[np.bool_]] = []
        seen = 0
        for i, doc in enumerate(documents):
            s = self._scores(doc, None if prompts is None else prompts[i])
            all_t.append(s.tuple_ids)
            all_h.append(s.hits)
            all_p.append(s.in_prompt)
            seen += s.tokens_seen
        if all_t:
            pooled = TupleScores(
                np.concatenate(all_t), np.concatenate(all_h), np.concatenate(all_p), seen
            )
        else:
            empty = np.zeros(0, dtype=np.uint64)
            pooled = TupleScores(empty, np.zeros(0, np.int64), np.zeros(0, np.bool_), 0)
        n, green = select_scored(pooled)
        return self._result(n, green, seen, len(documents), partial, note)

    def _result(
        self, n: int, green: int, seen: int, docs: int, partial: bool, note: str
    ) -> Detection:
        trials = n * self.trials_per_tuple
        p = stats.binomial_pvalue(green, trials, self.null_rate)
        notes = [note] if note else []
        insufficient = n < self.min_tokens
        if seen == 0:
            notes.append("empty input: nothing to score")
        elif n == 0:
            notes.append(
                f"no token could be scored: {seen} tokens seen, each scored token needs "
                f"{self.context_width} tokens of context and tuples seen in the prompt "
                "or earlier in the text are skipped"
            )
        elif insufficient:
            notes.append(
                f"only {n} unique tokens scored (minimum {self.min_tokens}): the p-value is "
                "exact but too little text was scored to rely on it"
            )
        return Detection(
            scheme=self.name,
            key_id=self.key.key_id,
            p_value=p,
            z=stats.binomial_z(green, trials, self.null_rate),
            tokens_seen=seen,
            tokens_scored=n,
            green_count=green,
            trials=trials,
            null_rate=self.null_rate,
            insufficient=insufficient,
            partial=partial,
            note="; ".join(notes),
            documents=docs,
        )


def combine_pvalues(detections: Sequence[Detection], method: str = "fisher") -> float:
    """Combine per-document p-values (Fisher, or Stouffer weighted by sqrt(tokens scored)).

    Valid when the documents share no scored tuple; otherwise prefer
    :meth:`TokenDetector.detect_corpus`, which pools unique tuples and stays exact.
    Insufficient documents are left out.
    """
    used = [d for d in detections if not d.insufficient]
    if method == "fisher":
        return stats.fisher_combine([d.p_value for d in used])
    if method == "stouffer":
        return stats.stouffer_combine(
            [d.p_value for d in used], [float(d.tokens_scored) ** 0.5 for d in used]
        )
    raise WatermarkError(f"unknown combination method {method!r}; use fisher or stouffer")


@dataclass(frozen=True)
class MultiKeyResult:
    """Detection of one text against many keys, with multiple-testing correction.

    Attributes:
        detections: one per key, in key-ring order.
        bonferroni: Bonferroni-adjusted p-values.
        holm: Holm-adjusted p-values.
        bh: Benjamini-Hochberg q-values.
        alpha: family-wise level used for ``matches``.
        matches: scopes whose Holm-adjusted p-value is below ``alpha``.
    """

    detections: tuple[Detection, ...]
    scopes: tuple[str, ...]
    bonferroni: tuple[float, ...]
    holm: tuple[float, ...]
    bh: tuple[float, ...]
    alpha: float
    matches: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (key ids and scopes only, never keys)."""
        rows = []
        for i, d in enumerate(self.detections):
            row = d.to_dict()
            row.update(
                scope=self.scopes[i],
                p_bonferroni=self.bonferroni[i],
                p_holm=self.holm[i],
                q_bh=self.bh[i],
            )
            rows.append(row)
        return {"alpha": self.alpha, "matches": list(self.matches), "keys": rows}


def correct(detections: Sequence[Detection], scopes: Sequence[str], alpha: float) -> MultiKeyResult:
    """Apply Bonferroni, Holm and BH across keys; ``matches`` are Holm-significant scopes."""
    ps = [d.p_value for d in detections]
    h = stats.holm(ps)
    matches = tuple(
        s for s, d, q in zip(scopes, detections, h, strict=True) if q < alpha and not d.insufficient
    )
    return MultiKeyResult(
        tuple(detections),
        tuple(scopes),
        tuple(stats.bonferroni(ps)),
        tuple(h),
        tuple(stats.benjamini_hochberg(ps)),
        alpha,
        matches,
    )
