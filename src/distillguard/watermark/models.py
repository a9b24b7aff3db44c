"""Loading causal LMs (the shipped tiny one or a user-supplied path) and generating with a
watermark, plus the scoring helpers the radioactivity audit needs.

Nothing is downloaded: a model is either the tiny GPT-2 shipped in ``assets/tiny-lm`` (for
tests and demos) or a local directory in Hugging Face format given by the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import AutoModelForCausalLM, LogitsProcessorList
from transformers.utils import logging as hf_logging

from distillguard.errors import WatermarkError
from distillguard.watermark.tokenizer import HFTokenizer, load_tokenizer, tiny_model_path


@dataclass(frozen=True)
class LocalModel:
    """A causal LM and its tokenizer, loaded from a local directory.

    Attributes:
        model: the ``transformers`` model (eval mode, CPU unless moved).
        tokenizer: its tokenizer (adapter).
        path: where it was loaded from.
        eos_id: end-of-text token id.
    """

    model: Any
    tokenizer: HFTokenizer
    path: Path
    eos_id: int

    @property
    def vocab_size(self) -> int:
        """Logit width of the model."""
        return int(self.model.config.vocab_size)


def load_model(path: str | Path | None = None) -> LocalModel:
    """Load a causal LM directory (config.json, weights, tokenizer.json); None = tiny model.

    Raises:
        WatermarkError: the directory is missing or not a loadable model, naming the path.
    """
    p = tiny_model_path() if path is None else Path(path)
    if not p.is_dir():
        raise WatermarkError(f"{p}: model directory not found")
    if not (p / "config.json").is_file():
        raise WatermarkError(f"{p}: no config.json; expected a Hugging Face model directory")
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(str(p), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise WatermarkError(f"{p}: cannot load model: {exc}") from None
    model.eval()
    tok = load_tokenizer(p)
    eos = model.config.eos_token_id
    return LocalModel(model, tok, p, int(eos if eos is not None else 0))


def generate(
    lm: LocalModel,
    prompts: list[str],
    *,
    processors: list[Any] | None = None,
    watermarking_config: Any = None,
    max_new_tokens: int = 200,
    min_new_tokens: int = 0,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
) -> list[list[int]]:
    """Sample completions (token ids, EOS stripped) for ``prompts``.

    Args:
        lm: the model.
        prompts: prompt texts.
        processors: logits processors (e.g. :class:`KGWLogitsProcessor`) applied each step.
        watermarking_config: a ``SynthIDTextWatermarkingConfig`` (fresh processor per call).
        max_new_tokens: tokens to sample per prompt.
        min_new_tokens: suppress end-of-text before this many tokens.
        temperature: sampling temperature.
        seed: torch seed (deterministic on one thread).
        batch_size: prompts per batch (left padding).
    """
    torch.manual_seed(seed)
    limit = int(getattr(lm.model.config, "n_positions", 1 << 30)) - max_new_tokens
    if limit < 1:
        raise WatermarkError(
            f"max_new_tokens={max_new_tokens} leaves no room for the prompt in a model "
            f"with {lm.model.config.n_positions} positions"
        )
    out: list[list[int]] = []
    for b in range(0, len(prompts), batch_size):
        # keep the end of over-long prompts: the model only has n_positions positions
        chunk = [
            lm.tokenizer.encode(p)[-limit:] or [lm.eos_id] for p in prompts[b : b + batch_size]
        ]
        width = max(len(c) for c in chunk)
        ids = torch.full((len(chunk), width), lm.eos_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, c in enumerate(chunk):
            ids[i, width - len(c) :] = torch.tensor(c, dtype=torch.long)
            mask[i, width - len(c) :] = 1
        with torch.no_grad():
            gen = lm.model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                max_new_tokens=max_new_tokens,
                min_new_tokens=min_new_tokens,
                logits_processor=LogitsProcessorList(processors or []),
                watermarking_config=watermarking_config,
                pad_token_id=lm.eos_id,
                eos_token_id=lm.eos_id,
            )
        for row in gen[:, width:].tolist():
            out.append(row[: row.index(lm.eos_id)] if lm.eos_id in row else row)
    return out


def _fitting(lm: LocalModel, ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """``ids`` cut to the model's longest input (``n_positions``), as int64."""
    limit = int(getattr(lm.model.config, "n_positions", 1 << 30))
    return np.asarray(ids, dtype=np.int64)[:limit]


def _window_logits(lm: LocalModel, ids: NDArray[np.int64], context: int) -> Iterator[torch.Tensor]:
    """The model's logits over ``ids`` (already :func:`_fitting`), ``context`` tokens at a
    time (teacher forcing): row ``i`` of window ``s`` predicts ``ids[s + i + 1]``."""
    with torch.no_grad():
        for s in range(0, max(len(ids) - 1, 0), context):
            window = torch.from_numpy(ids[s : s + context].copy())[None, :]
            yield lm.model(input_ids=window).logits[0]


def next_token_argmax(
    lm: LocalModel, texts: list[NDArray[np.int64]], *, context: int = 128
) -> list[NDArray[np.int64]]:
    """For each token sequence, the model's top-1 prediction at every position.

    ``pred[i]`` is the prediction for position ``i + 1`` given ``ids[: i + 1]`` (teacher
    forcing, windows of ``context`` tokens). Used by the open-weights radioactivity audit.
    """
    preds: list[NDArray[np.int64]] = []
    for raw in texts:
        ids = _fitting(lm, raw)
        chunks = [logits.argmax(-1).numpy() for logits in _window_logits(lm, ids, context)]
        preds.append(np.concatenate(chunks)[: len(ids) - 1] if chunks else np.zeros(0, np.int64))
    return preds


def next_token_probs(
    lm: LocalModel, ids: NDArray[np.int64], *, context: int = 128
) -> NDArray[np.float64]:
    """The model's next-token distribution at every position of one token sequence.

    Row ``i`` is the distribution of ``ids[i + 1]`` given ``ids[: i + 1]`` (same windows of
    ``context`` tokens as :func:`next_token_argmax`, whose prediction is each row's argmax).
    Used by the soft open-mode score (:mod:`distillguard.watermark.soft`).
    """
    ids = _fitting(lm, ids)
    rows = [torch.softmax(lg.double(), -1).numpy() for lg in _window_logits(lm, ids, context)]
    if not rows:
        return np.zeros((0, lm.vocab_size), dtype=np.float64)
    return np.concatenate(rows)[: len(ids) - 1]


def perplexity(
    lm: LocalModel, texts: list[list[int]], *, prompts: list[list[int]] | None = None
) -> float:
    """Perplexity of ``lm`` on completions (prompt tokens condition but are not scored)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for i, comp in enumerate(texts):
            if not comp:
                continue
            prefix = prompts[i] if prompts is not None else [lm.eos_id]
            ids = torch.tensor([prefix + comp], dtype=torch.long)[:, -lm.model.config.n_positions :]
            logits = lm.model(input_ids=ids).logits[0, :-1]
            target = ids[0, 1:]
            lp = torch.log_softmax(logits, -1).gather(1, target[:, None])[:, 0]
            n = min(len(comp), lp.shape[0])
            total -= float(lp[-n:].sum())
            count += n
    if count == 0:
        raise WatermarkError("perplexity: no tokens to score")
    return float(np.exp(total / count))


def continuation_logprobs(lm: LocalModel, prefix: str, candidates: list[str]) -> list[float]:
    """Log-probability of each ``" " + candidate`` after ``prefix`` (one batched pass).

    Used by the open-weights canary audit (:func:`distillguard.watermark.canary.audit_ranking`).
    """
    p = lm.tokenizer.encode(prefix)
    conts = [lm.tokenizer.encode(" " + c) for c in candidates]
    width = len(p) + max(len(c) for c in conts)
    ids = torch.full((len(conts), width), lm.eos_id, dtype=torch.long)
    for i, c in enumerate(conts):
        ids[i, : len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(input_ids=ids).logits, -1)
    out = []
    for i, c in enumerate(conts):
        pos = torch.arange(len(p) - 1, len(p) + len(c) - 1)
        out.append(float(logp[i, pos, torch.tensor(c)].sum()))
    return out
