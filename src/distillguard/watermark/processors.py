"""Logit-level embedders as ``transformers`` LogitsProcessors.

Use them with ``model.generate(..., logits_processor=LogitsProcessorList([proc]))`` or in
any serving stack that applies a ``(input_ids, scores) -> scores`` hook per decoding step
(vLLM's per-request ``logits_processors`` accept the same callable shape; see
docs/watermark.md). The processor needs the key and the vocabulary size only.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

from distillguard.errors import WatermarkError
from distillguard.watermark import hashing
from distillguard.watermark.keys import WatermarkKey
from distillguard.watermark.kgw import KGWParams, green_of_vocab


class KGWLogitsProcessor(LogitsProcessor):  # type: ignore[misc]
    """Add ``delta`` to the logits of green tokens (KGW left-/self-hash, Unigram).

    Args:
        key: the key (its scope decides which cohort the text is marked for).
        vocab_size: the model's logit width (may exceed the tokenizer's vocabulary).
        params: gamma, delta, context width and seeding; the detector must use the same.
    """

    def __init__(self, key: WatermarkKey, vocab_size: int, params: KGWParams | None = None) -> None:
        if vocab_size <= 0:
            raise WatermarkError(f"vocab_size must be positive, got {vocab_size}")
        self.key = key
        self.vocab_size = vocab_size
        self.params = params or KGWParams()
        self._unigram: torch.Tensor | None = None
        if self.params.context_width == 0:
            mask = green_of_vocab(np.zeros(0, np.uint64), vocab_size, key, self.params)
            self._unigram = torch.from_numpy(mask)

    def green_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Boolean (batch, vocab) mask of green next tokens; rows with too short a context
        are all False (no bias)."""
        if self._unigram is not None:
            return self._unigram.unsqueeze(0).expand(input_ids.shape[0], -1)
        h = self.params.context_width
        rows = []
        for row in input_ids.detach().cpu().numpy():
            if row.size < h:
                rows.append(np.zeros(self.vocab_size, dtype=np.bool_))
            else:
                rows.append(
                    green_of_vocab(
                        hashing.as_words(row[-h:]), self.vocab_size, self.key, self.params
                    )
                )
        return torch.from_numpy(np.stack(rows))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Bias green logits by delta."""
        mask = self.green_mask(input_ids).to(scores.device)
        width = min(mask.shape[1], scores.shape[1])
        out = scores.clone()
        out[:, :width] = out[:, :width] + self.params.delta * mask[:, :width].to(scores.dtype)
        return out
