"""SynthID-Text-style tournament watermark: ``transformers``' generator, our own detector.

Generation reuses ``transformers.SynthIDTextWatermarkLogitsProcessor`` (Dathathri et al.,
Nature 2024): at each step, ``depth`` keyed binary g-functions of the last ``ngram_len``
tokens re-weight the distribution, as a tournament would. Its keys, sampling-table seed
and so on are derived from our :class:`~distillguard.watermark.keys.WatermarkKey`.

Detection is frequentist and needs no trained Bayesian scorer: for each unique n-gram of the
text (prompt n-grams excluded) we read its ``depth`` g-values with the same processor (no
model involved). Without the watermark each g-value is Bernoulli(p0), with p0 the exact mean
of the keyed sampling table, independently across layers and unique n-grams, so their sum is
Binomial(n x depth, p0) and the p-value is an exact binomial tail (the "mean g-value" test).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import SynthIDTextWatermarkingConfig, SynthIDTextWatermarkLogitsProcessor

from distillguard.errors import WatermarkError
from distillguard.watermark import hashing
from distillguard.watermark.base import DEFAULT_MIN_TOKENS, TokenDetector, TupleScores
from distillguard.watermark.keys import WatermarkKey
from distillguard.watermark.tokenizer import TokenizerLike


@dataclass(frozen=True)
class SynthIDParams:
    """Parameters of the tournament watermark.

    Attributes:
        ngram_len: tokens per n-gram (context = ngram_len - 1 previous tokens).
        depth: tournament layers (g-functions).
        sampling_table_size: size of the keyed table mapping hashes to g-values.
        context_history_size: how many recent contexts are remembered to skip repeats.
    """

    ngram_len: int = 4
    depth: int = 16
    sampling_table_size: int = 2**16
    context_history_size: int = 1024

    def __post_init__(self) -> None:
        if self.ngram_len < 2:
            raise WatermarkError(f"ngram_len must be >= 2, got {self.ngram_len}")
        if not 1 <= self.depth <= 64:
            raise WatermarkError(f"depth must be 1..64, got {self.depth}")


def _keyed_ints(key: WatermarkKey, label: str, count: int) -> list[int]:
    out = []
    for i in range(count):
        digest = hashlib.sha256(key.material + f"|synthid|{label}|{i}".encode()).digest()
        out.append(int.from_bytes(digest[:4], "little"))
    return out


class SynthIDEmbedder:
    """Builds the ``transformers`` SynthID configuration/processor for one key.

    Args:
        key: the key (scheme ``synthid``).
        params: n-gram length, depth and table size (the detector must use the same).
    """

    def __init__(self, key: WatermarkKey, params: SynthIDParams | None = None) -> None:
        self.key = key
        self.params = params or SynthIDParams()

    def watermarking_config(self) -> Any:
        """A ``SynthIDTextWatermarkingConfig`` for ``model.generate(watermarking_config=...)``."""
        p = self.params
        return SynthIDTextWatermarkingConfig(
            ngram_len=p.ngram_len,
            keys=_keyed_ints(self.key, "layer", p.depth),
            sampling_table_size=p.sampling_table_size,
            sampling_table_seed=_keyed_ints(self.key, "table", 1)[0],
            context_history_size=p.context_history_size,
        )

    def logits_processor(self, device: str = "cpu") -> Any:
        """A fresh (stateful, one generation at a time) SynthID logits processor."""
        p = self.params
        return SynthIDTextWatermarkLogitsProcessor(
            ngram_len=p.ngram_len,
            keys=_keyed_ints(self.key, "layer", p.depth),
            sampling_table_size=p.sampling_table_size,
            sampling_table_seed=_keyed_ints(self.key, "table", 1)[0],
            context_history_size=p.context_history_size,
            device=torch.device(device),
        )


class SynthIDDetector(TokenDetector):
    """Mean g-value test with an exact binomial null (no model, no trained scorer).

    The prompt is not hashed into generated n-grams by the ``transformers`` generator, so
    only the completion's own n-grams are scored; n-grams also seen in the prompt are dropped.
    """

    name: ClassVar[str] = "synthid"

    def __init__(
        self,
        key: WatermarkKey,
        tokenizer: TokenizerLike | Any | None = None,
        params: SynthIDParams | None = None,
        *,
        min_tokens: int = DEFAULT_MIN_TOKENS,
    ) -> None:
        super().__init__(key, tokenizer, min_tokens=min_tokens)
        self.params = params or SynthIDParams()
        self._proc = SynthIDEmbedder(key, self.params).logits_processor()
        self._p0 = float(self._proc.sampling_table.double().mean().item())
        self.trials_per_tuple = self.params.depth

    @property
    def null_rate(self) -> float:
        """Exact mean of the keyed sampling table (about 0.5)."""
        return self._p0

    @property
    def context_width(self) -> int:
        """ngram_len - 1."""
        return self.params.ngram_len - 1

    def g_values(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """(positions, depth) g-values of each n-gram ending at ``ngram_len-1..``."""
        if ids.size < self.params.ngram_len:
            return np.zeros((0, self.params.depth), dtype=np.int64)
        with torch.no_grad():
            g = self._proc.compute_g_values(torch.from_numpy(ids.astype(np.int64))[None, :])
        return np.asarray(g[0].numpy(), dtype=np.int64)

    def score(self, ids: NDArray[np.int64], start: int) -> TupleScores:
        """g-value sums of the completion's n-grams; prompt n-grams are marked in_prompt."""
        width = self.context_width
        prompt, completion = ids[:start], ids[start:]
        words_c = hashing.as_words(completion)
        t_c = hashing.tuple_ids(words_c, width)
        hits = self.g_values(completion).sum(axis=1).astype(np.int64)
        t_p = hashing.tuple_ids(hashing.as_words(prompt), width)
        return TupleScores(
            tuple_ids=np.concatenate([t_p, t_c]),
            hits=np.concatenate([np.zeros(t_p.size, np.int64), hits]),
            in_prompt=np.concatenate([np.ones(t_p.size, np.bool_), np.zeros(t_c.size, np.bool_)]),
            tokens_seen=int(completion.size),
        )
