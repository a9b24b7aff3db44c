"""Tokenizer adapter and fingerprint, plus the tiny tokenizer/model shipped for tests.

Detectors need only a tokenizer (never the model). Keys record a fingerprint of the
tokenizer they were made for (a hash of its vocabulary), so that detecting with a different
tokenizer fails loudly instead of returning a meaningless p-value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from distillguard.errors import WatermarkError

#: the tiny byte-level BPE tokenizer and GPT-2 model shipped with the package.
TINY_MODEL_DIR = "assets/tiny-lm"


class TokenizerLike(Protocol):
    """What detectors need from a tokenizer."""

    @property
    def fingerprint(self) -> str:
        """A stable hash of the vocabulary."""
        ...

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``."""
        ...


def vocab_fingerprint(vocab: dict[str, int]) -> str:
    """``tok_`` + 16 hex digits of SHA-256 over the sorted vocabulary."""
    blob = json.dumps(sorted(vocab.items()), ensure_ascii=True).encode()
    return "tok_" + hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class HFTokenizer:
    """Adapter over a ``tokenizers.Tokenizer`` or a ``transformers`` tokenizer."""

    inner: Any
    fingerprint: str
    vocab_size: int

    @classmethod
    def wrap(cls, tok: Any) -> HFTokenizer:
        """Wrap a ``tokenizers.Tokenizer`` or ``transformers.PreTrainedTokenizerBase``."""
        if isinstance(tok, HFTokenizer):
            return tok
        vocab = tok.get_vocab()
        size = max(vocab.values()) + 1 if vocab else 0
        return cls(tok, vocab_fingerprint(vocab), size)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        out = self.inner.encode(text, add_special_tokens=False)
        ids = out.ids if hasattr(out, "ids") else out
        return [int(i) for i in ids]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``."""
        return str(self.inner.decode(list(ids)))


def tiny_model_path() -> Path:
    """Directory of the shipped tiny model (config.json, model.safetensors, tokenizer.json)."""
    path = Path(str(resources.files("distillguard.watermark").joinpath(TINY_MODEL_DIR)))
    if not (path / "tokenizer.json").is_file():
        raise WatermarkError(
            f"{path}: the tiny model is missing; run scripts/watermark_train_tiny.py"
        )
    return path


def load_tokenizer(path: str | Path | None = None) -> HFTokenizer:
    """Load a tokenizer from a ``tokenizer.json`` file or a model directory.

    Args:
        path: a ``tokenizer.json``, or a directory holding one (a Hugging Face model
            directory); None loads the shipped tiny tokenizer.

    Raises:
        WatermarkError: the path does not exist or holds no readable tokenizer.
    """
    from tokenizers import Tokenizer

    p = tiny_model_path() if path is None else Path(path)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise WatermarkError(f"{file}: no tokenizer.json found")
    try:
        return HFTokenizer.wrap(Tokenizer.from_file(str(file)))
    except Exception as exc:  # tokenizers raises a bare Exception subclass
        raise WatermarkError(f"{file}: not a readable tokenizer: {exc}") from None
