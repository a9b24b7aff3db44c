"""Cue phrases: exact, normalised word sequences matched on token hashes.

A cue is a phrase of one to four words ("step by step", "rate the response",
"ignore previous instructions"). Phrases are normalised like prompts (lower case, numbers
as ``0``), so "On a scale of 1 to 10" matches the cue "scale of 0 to 0". Matching works on
the shared :class:`~distillguard.detect.signals.text.TokenBatch`: only positions whose first
token starts some cue are hashed further, so the cost stays well below one pass over all
n-grams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distillguard.detect.signals import kernels
from distillguard.detect.signals.text import (
    MAX_NGRAM,
    NGRAM_MUL,
    TokenBatch,
    tokenize,
    tokens_py,
    window_hashes,
)

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class CueTable:
    """Phrases with their hashes, grouped by length.

    Attributes:
        phrases: the cue phrases, in id order.
        by_len: for each length k, (sorted k-gram hashes, cue ids in the same order).
        first: sorted hashes of the first token of every cue.
        bloom: a bit per top-20-bit prefix of ``first`` (to skip positions cheaply).
        keys: open-addressing table of every cue's k-gram hash (for the compiled matcher).
        ids: cue id of each slot of ``keys``.
        first_bits: per low 16 bits of a cue's first token, a bit per cue length.
        max_k: the longest cue, in tokens.
    """

    phrases: tuple[str, ...]
    by_len: dict[int, tuple[npt.NDArray[np.uint64], I64]]
    first: npt.NDArray[np.uint64]
    bloom: npt.NDArray[np.bool_]
    keys: npt.NDArray[np.uint64]
    ids: I64
    first_bits: npt.NDArray[np.uint8]
    max_k: int

    def match(self, batch: TokenBatch) -> tuple[I64, I64]:
        """Return (row, cue id) for every distinct cue occurring in each prompt.

        Pairs come sorted by row, then cue id.
        """
        if batch.tok.size == 0 or not self.phrases:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if kernels.HAVE_NUMBA:
            r, c = kernels.match_grams(
                batch.tok, batch.parent, self.keys, self.ids, self.first_bits, self.max_k,
                len(self.phrases), NGRAM_MUL, True,
            )  # fmt: skip
            key = np.sort(r * np.int64(len(self.phrases)) + c)
            return key // len(self.phrases), key % len(self.phrases)
        return self.match_numpy(batch)

    def match_numpy(self, batch: TokenBatch) -> tuple[I64, I64]:
        """The numpy matcher (fallback without numba; the kernel must agree with it)."""
        rows: list[I64] = []
        ids: list[I64] = []
        if batch.tok.size == 0 or not self.phrases:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # a 2**20-bit filter of first tokens, then an exact check on the few candidates
        cand = np.flatnonzero(self.bloom[(batch.tok >> np.uint64(44)).astype(np.int64)])
        pos = np.minimum(np.searchsorted(self.first, batch.tok[cand]), self.first.size - 1)
        cand = cand[self.first[pos] == batch.tok[cand]]
        for k, (hashes, cue_ids) in self.by_len.items():
            if k == 1:
                g, par = batch.tok[cand], batch.parent[cand]
            else:
                pos = cand[cand + k - 1 < batch.tok.size]
                pos = pos[batch.parent[pos] == batch.parent[pos + k - 1]]
                g, par = window_hashes(batch.tok, pos, k), batch.parent[pos]
            idx = np.searchsorted(hashes, g)
            idx = np.minimum(idx, hashes.size - 1)
            hit = hashes[idx] == g
            rows.append(par[hit])
            ids.append(cue_ids[idx[hit]])
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        r = np.concatenate(rows)
        c = np.concatenate(ids)
        key = np.unique(r * np.int64(len(self.phrases)) + c)
        return key // len(self.phrases), key % len(self.phrases)

    def matched_phrases(self, text: str) -> list[str]:
        """The cue phrases that occur in one text (in cue order)."""
        _, ids = self.match(tokenize([text]))
        return [self.phrases[i] for i in sorted(set(ids.tolist()))]


def phrase_hashes(phrases: Sequence[str]) -> tuple[I64, U64, U64]:
    """Token count, k-gram hash and first-token hash of each phrase (one tokenisation).

    Raises ``ValueError`` for a phrase of no word or of more than ``MAX_NGRAM`` words.
    """
    batch = tokenize(list(phrases))
    k = np.bincount(batch.parent, minlength=batch.n).astype(np.int64)
    for phrase, kk in zip(phrases, k.tolist(), strict=True):
        if not 1 <= kk <= MAX_NGRAM:
            raise ValueError(f"phrase {phrase!r} must have 1..{MAX_NGRAM} tokens, has {kk}")
    start = np.r_[0, np.cumsum(k)[:-1]].astype(np.int64)
    first = batch.tok[start]
    h = first.copy()
    for kk in range(2, MAX_NGRAM + 1):
        sel = np.flatnonzero(k == kk)
        if sel.size:
            h[sel] = window_hashes(batch.tok, start[sel], kk)
    return k, h, first


def cue_table(phrases: Sequence[str]) -> CueTable:
    """Build a :class:`CueTable`; raises ``ValueError`` for an empty or too long phrase."""
    uniq = tuple(dict.fromkeys(p.strip() for p in phrases))
    grouped: dict[int, list[tuple[int, int]]] = {}
    ks, hs, fs = phrase_hashes(uniq) if uniq else (np.empty(0, np.int64),) * 3
    firsts: list[int] = [int(f) for f in fs]
    for i, (k, h) in enumerate(zip(ks.tolist(), hs.tolist(), strict=True)):
        grouped.setdefault(k, []).append((h, i))
    by_len: dict[int, tuple[npt.NDArray[np.uint64], I64]] = {}
    for k, items in sorted(grouped.items()):
        items.sort()
        by_len[k] = (
            np.array([h for h, _ in items], dtype=np.uint64),
            np.array([i for _, i in items], dtype=np.int64),
        )
    first = np.unique(np.array(firsts, dtype=np.uint64))
    bloom = np.zeros(1 << 20, dtype=bool)
    bloom[(first >> np.uint64(44)).astype(np.int64)] = True
    keys, ids = kernels.gram_table(np.asarray(hs, np.uint64), np.arange(len(uniq), dtype=np.int64))
    return CueTable(
        uniq,
        by_len,
        first,
        bloom,
        keys,
        ids,
        kernels.first_filter(np.asarray(fs, np.uint64), np.asarray(ks, np.int64)),
        int(max(ks, default=0)),
    )


def phrase_tokens(phrase: str) -> list[str]:
    """Normalised tokens of a phrase (for documentation and checks)."""
    toks = tokens_py(phrase)
    if not 1 <= len(toks) <= MAX_NGRAM:
        raise ValueError(f"cue {phrase!r} must have 1..{MAX_NGRAM} words")
    return toks
