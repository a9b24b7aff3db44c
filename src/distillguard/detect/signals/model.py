"""Linear models over hashed word n-grams and cue phrases, with numpy inference.

Features of a prompt: its word unigrams and bigrams hashed into ``dim`` buckets, then one
column per cue phrase (1 when the phrase occurs). A bucket's value is its count (``tf =
"count"``, artefacts trained before log term frequencies) or ``1 + ln(count)`` (``tf =
"log"``, the shipped models): a phrase said once or fifty times is nearly the same evidence,
so a payload of repeated lines cannot outvote a short wrapper. A model is a weight per column
and a bias; the score is the logistic of their dot product. Training (``scripts/train_signals.py``)
uses the same :func:`featurize`, so training and inference cannot drift apart.

Artefacts are ``.npz`` files shipped in ``distillguard/detect/signals/artefacts/``: hashed
weights as float16 (half a megabyte at 2**18 buckets), cue phrases and their weights, the
bias, and a small metadata record (training corpora, held-out scores).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from distillguard.detect.signals.cues import CueTable, cue_table
from distillguard.detect.signals.text import TokenBatch, tokenize, tokens_py
from distillguard.errors import DetectionError

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

DEFAULT_DIM = 1 << 17
#: hashed n-gram features of a prompt of ``t`` tokens weigh ``1/sqrt(max(t / NORM_TOKENS, 1))``
#: so that a long payload cannot drown a short wrapper (cue features stay 0/1); with
#: ``tf = "log"``, ``t`` is half the number of distinct buckets (repetitions do not dilute)
NORM_TOKENS = 16
#: how a bucket's count becomes its value: ``count`` (as counted) or ``log`` (1 + ln count)
TF_MODES = ("count", "log")
DEFAULT_TF = "log"
ARTEFACT_PACKAGE = "distillguard.detect.signals.artefacts"


@dataclass(frozen=True, slots=True)
class Features:
    """Sparse features of a batch in coordinate form: value ``val`` at (``row``, ``col``)."""

    n: int
    row: I64
    col: I64
    val: F32
    n_cols: int


def hashed_columns(batch: TokenBatch, dim: int) -> tuple[I64, I64]:
    """(row, column) of every unigram and bigram occurrence, hashed into ``dim`` buckets."""
    key = batch.cache.get(f"hashed:{dim}")
    if key is None:
        uni, up = batch.ngrams(1)
        bi, bp = batch.ngrams(2)
        mask = np.uint64(dim - 1)
        cols = np.concatenate([(uni >> np.uint64(20)) & mask, (bi >> np.uint64(20)) & mask])
        rows = np.concatenate([up, bp])
        key = (rows, cols.astype(np.int64))
        batch.cache[f"hashed:{dim}"] = key
    rows_cols: tuple[I64, I64] = key  # type: ignore[assignment]
    return rows_cols


def _length_weight(units: F32, per: int) -> F32:
    """``1/sqrt(max(units / per, 1))`` per prompt (1 everywhere when ``per`` is 0)."""
    if per <= 0:
        return np.ones(units.size, dtype=np.float32)
    out: F32 = (1.0 / np.sqrt(np.maximum(units / per, 1.0))).astype(np.float32)
    return out


def length_scale(batch: TokenBatch, norm_tokens: int) -> F32:
    """Per prompt, the weight of its hashed n-gram features by its tokens (``tf = "count"``
    models; 1 when ``norm_tokens`` is 0)."""
    key = f"scale:{norm_tokens}"
    hit = batch.cache.get(key)
    if hit is None:
        t = np.bincount(batch.parent, minlength=batch.n).astype(np.float32)
        hit = batch.cache[key] = _length_weight(t, norm_tokens)
    out: F32 = hit  # type: ignore[assignment]
    return out


def distinct_scale(distinct: F32, norm_tokens: int) -> F32:
    """Length weight of a prompt with ``distinct`` buckets (the ``tf = "log"`` models): about
    two buckets per token, so ``2 * norm_tokens`` of them weigh as ``norm_tokens`` tokens."""
    return _length_weight(distinct, 2 * norm_tokens)


def hashed_features(batch: TokenBatch, dim: int, norm_tokens: int, tf: str) -> Features:
    """The hashed n-gram features of a batch, scaled: (row, bucket, value) per entry.

    ``tf = "count"``: one entry per n-gram occurrence, value the length weight. ``tf = "log"``:
    one entry per distinct (prompt, bucket), value ``(1 + ln count)`` times the length weight.
    """
    if tf not in TF_MODES:
        raise DetectionError(f"unknown term-frequency mode {tf!r} (known: {', '.join(TF_MODES)})")
    key = f"features:{dim}:{norm_tokens}:{tf}"
    hit = batch.cache.get(key)
    if hit is None:
        rows, cols = hashed_columns(batch, dim)
        if tf == "count":
            hit = Features(batch.n, rows, cols, length_scale(batch, norm_tokens)[rows], dim)
        else:
            uniq, count = np.unique(rows * dim + cols, return_counts=True)
            r, c = uniq // dim, uniq % dim
            distinct = np.bincount(r, minlength=batch.n).astype(np.float32)
            scale = distinct_scale(distinct, norm_tokens)[r]
            val = ((1.0 + np.log(count)) * scale).astype(np.float32)
            hit = Features(batch.n, r, c, val, dim)
        batch.cache[key] = hit
    out: Features = hit  # type: ignore[assignment]
    return out


def featurize(
    batch: TokenBatch,
    cues: CueTable,
    dim: int,
    norm_tokens: int = NORM_TOKENS,
    tf: str = DEFAULT_TF,
) -> Features:
    """All features of a batch (training and inference share this)."""
    h = hashed_features(batch, dim, norm_tokens, tf)
    crow, cid = cue_matches(batch, cues)
    return Features(
        batch.n,
        np.concatenate([h.row, crow]),
        np.concatenate([h.col, cid + dim]),
        np.concatenate([h.val, np.ones(crow.size, dtype=np.float32)]),
        dim + len(cues.phrases),
    )


def cue_matches(batch: TokenBatch, cues: CueTable) -> tuple[I64, I64]:
    """Cached :meth:`CueTable.match` for one batch and one cue table."""
    key = f"cues:{id(cues)}"
    hit = batch.cache.get(key)
    # the table itself is kept with its matches: a freed table's id can be reused
    if not (isinstance(hit, tuple) and hit[0] is cues):
        hit = (cues, cues.match(batch))
        batch.cache[key] = hit
    out: tuple[I64, I64] = hit[1]
    return out


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A trained logistic regression.

    Attributes:
        name: the signal it belongs to.
        dim: number of hashed buckets (a power of two).
        w_hash: weight per hashed bucket.
        cues: the cue phrases the model was trained with.
        w_cue: weight per cue phrase.
        bias: intercept.
        meta: training metadata (corpora, sizes, held-out precision and recall).
        norm_tokens: length normalisation of the hashed features (see ``NORM_TOKENS``;
            0 for models trained without it).
        tf: value of a hashed bucket, see :data:`TF_MODES` (``count`` for older artefacts).
    """

    name: str
    dim: int
    w_hash: F32
    cues: CueTable
    w_cue: F32
    bias: float
    meta: dict[str, object]
    norm_tokens: int = 0
    tf: str = "count"

    def logits(self, batch: TokenBatch) -> F32:
        """Raw scores (before the logistic) of a batch."""
        h = hashed_features(batch, self.dim, self.norm_tokens, self.tf)
        out = np.asarray(
            np.bincount(h.row, weights=self.w_hash[h.col] * h.val, minlength=batch.n),
            dtype=np.float64,
        )
        crow, cid = cue_matches(batch, self.cues)
        if crow.size:
            out += np.bincount(crow, weights=self.w_cue[cid], minlength=batch.n)
        return (out + self.bias).astype(np.float32)

    def predict(self, batch: TokenBatch) -> F32:
        """Probabilities in [0, 1]."""
        z = np.clip(self.logits(batch), -30.0, 30.0)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def explain(self, text: str, top: int = 6) -> list[str]:
        """Matched cues (with weights) then the n-grams that raised the score most."""
        out: list[tuple[float, str]] = []
        matched = self.cues.matched_phrases(text)
        index = {p: i for i, p in enumerate(self.cues.phrases)}
        for phrase in matched:
            w = float(self.w_cue[index[phrase]])
            if w > 0:
                out.append((w + 100.0, f"cue {phrase!r} (+{w:.2f})"))
        toks = tokens_py(text)
        grams = {" ".join(toks[i : i + k]) for k in (1, 2) for i in range(len(toks) - k + 1)}
        for gram in grams:
            b = tokenize([gram])
            _, cols = hashed_columns(b, self.dim)
            # the last column is the n-gram itself (unigrams come first, then bigrams)
            w = float(self.w_hash[cols[-1]]) if cols.size else 0.0
            if w > 0.5:
                out.append((w, f"words {gram!r} (+{w:.2f})"))
        out.sort(key=lambda t: (-t[0], t[1]))
        return [s for _, s in out[: top + len(matched)]]

    def save(self, path: Path) -> None:
        """Write the model as a compressed ``.npz``."""
        np.savez_compressed(
            path,
            w_hash=self.w_hash.astype(np.float16),
            w_cue=self.w_cue.astype(np.float32),
            cues=np.array(self.cues.phrases, dtype=np.str_),
            bias=np.array([self.bias], dtype=np.float32),
            dim=np.array([self.dim], dtype=np.int64),
            norm_tokens=np.array([self.norm_tokens], dtype=np.int64),
            tf=np.array(self.tf),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )


def read_model(path: Path | str, name: str) -> LinearModel:
    """Load a model from an ``.npz`` file; raises :class:`DetectionError` if unusable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            dim = int(z["dim"][0])
            w_hash = z["w_hash"].astype(np.float32)
            w_cue = z["w_cue"].astype(np.float32)
            phrases = tuple(str(p) for p in z["cues"])
            bias = float(z["bias"][0])
            meta = json.loads(str(z["meta"]))
            norm = int(z["norm_tokens"][0]) if "norm_tokens" in z.files else 0
            tf = str(z["tf"]) if "tf" in z.files else "count"
    except (OSError, KeyError, ValueError) as exc:
        raise DetectionError(f"{path}: cannot load signal model {name!r}: {exc}") from exc
    if w_hash.size != dim or w_cue.size != len(phrases):
        raise DetectionError(f"{path}: signal model {name!r} has inconsistent shapes")
    if tf not in TF_MODES:
        raise DetectionError(f"{path}: signal model {name!r} has unknown tf mode {tf!r}")
    return LinearModel(name, dim, w_hash, cue_table(phrases), w_cue, bias, meta, norm, tf)


def artefact_path(name: str) -> Path:
    """Where the shipped artefact of signal ``name`` lives."""
    return Path(str(resources.files(ARTEFACT_PACKAGE).joinpath(f"{name}.npz")))


_CACHE: dict[str, LinearModel] = {}


def load_model(name: str) -> LinearModel:
    """Load (once per process) the shipped model of signal ``name``."""
    model = _CACHE.get(name)
    if model is None:
        path = artefact_path(name)
        if not path.is_file():
            raise DetectionError(
                f"{path}: no trained model for signal {name!r}; run scripts/train_signals.py"
            )
        model = read_model(path, name)
        _CACHE[name] = model
    return model


def clear_cache() -> None:
    """Forget loaded models (after retraining in the same process)."""
    _CACHE.clear()
