"""Prompt-template families: the same wrapper around different payloads, also paraphrased.

Method (measured in ``benchmarks/bench_minhash.py`` and ``tests/detect/test_templates.py``):

1. Normalise and shingle: the shared tokenisation (lower case, numbers as ``0``) gives word
   3-gram shingles per prompt.
2. Document frequency: a first pass counts, per shingle, how many distinct prompts contain it
   (a hashed count array, constant memory). Payload shingles are rare; wrapper shingles are
   shared by every prompt built from the wrapper. Only shingles seen in at least ``min_df``
   prompts are kept; a prompt with fewer than ``min_shingles`` kept shingles has no wrapper
   (family ``-1``).
3. MinHash (``num_perm`` multiply-shift permutations in numpy, one pass over a batch) and
   LSH banding on the kept shingles; each candidate pair that shares a band is verified
   (estimated Jaccard >= ``threshold``) and joined (union-find). Across batches a bounded
   index maps band keys to families, verified against the family's first member, so a
   wrapper keeps one id over millions of prompts. Small edits, reordering and light
   paraphrases of the wrapper stay connected because the shingles they keep still overlap.

Family ids are int64, ``-1`` meaning "no wrapper found". Rarity (how many orgs and accounts
share a family) is computed in SQL by :mod:`distillguard.detect.annotate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distillguard.detect.signals import kernels
from distillguard.detect.signals.text import TokenBatch, mix64, ngrams, tokenize

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """Parameters of template families.

    Attributes:
        shingle: words per shingle.
        min_df: a shingle is "wrapper" when at least this many distinct prompts contain it.
        min_shingles: a prompt needs this many wrapper shingles to get a family.
        num_perm: MinHash permutations.
        bands: LSH bands (``num_perm / bands`` rows each).
        threshold: minimum estimated Jaccard between joined prompts.
        df_bits: log2 of the buckets of the document-frequency counter.
        seed: seed of the permutations.
        window: only the first and the last ``window`` shingles of a prompt are used
            (wrappers sit at the ends; the payload in the middle is not needed).
        paraphrase_threshold: families whose wrapper vocabularies (content words found in
            3/4 of a family's sampled members) have an estimated Jaccard similarity of at
            least this are one family (heavy paraphrases: reordered clauses, a few words
            changed); 0 disables.
        paraphrase_min_words: a wrapper vocabulary needs this many words to be compared.
    """

    shingle: int = 3
    min_df: int = 4
    min_shingles: int = 3
    num_perm: int = 32
    bands: int = 16
    threshold: float = 0.4
    df_bits: int = 22
    seed: int = 7
    window: int = 40
    paraphrase_threshold: float = 0.45
    paraphrase_min_words: int = 4


def shingles(batch: TokenBatch, k: int) -> tuple[U64, I64]:
    """Word ``k``-gram shingles of every prompt (hash, prompt index)."""
    return ngrams(batch.tok, batch.parent, k)


def window_shingles(batch: TokenBatch, config: TemplateConfig) -> tuple[U64, I64]:
    """40-bit shingle ids of the head and tail windows of every prompt, in prompt order."""
    k, w = config.shingle, config.window
    if kernels.HAVE_NUMBA:
        h, par = kernels.window_grams(batch.tok, batch.parent, batch.n, k, w, 24)
        return h, par
    h, par = ngrams(batch.tok, batch.parent, k)
    if h.size == 0:
        return h, par
    first = np.r_[0, np.flatnonzero(par[1:] != par[:-1]) + 1]
    count = np.diff(np.r_[first, par.size])
    rank = np.arange(par.size) - np.repeat(first, count)
    left = np.repeat(count, count) - rank
    keep = (rank < w) | (left <= w)
    return h[keep] >> np.uint64(24), par[keep]


def _unique_pairs(h: U64, parent: I64) -> tuple[U64, I64]:
    """Distinct (parent, shingle) pairs sorted by parent; shingle ids keep 40 bits.

    One sort of a single packed uint64 key (parent in the top 24 bits) is several times
    faster than a lexicographic sort of two arrays.
    """
    if h.size == 0:
        return h, parent
    key = np.sort((parent.astype(np.uint64) << np.uint64(40)) | (h >> np.uint64(24)))
    key = key[np.r_[True, key[1:] != key[:-1]]]
    return key & np.uint64((1 << 40) - 1), (key >> np.uint64(40)).astype(np.int64)


def window_words(batch: TokenBatch, config: TemplateConfig) -> tuple[U64, I64]:
    """40-bit word ids of the head and tail windows (``window`` words) of every prompt."""
    if kernels.HAVE_NUMBA:
        h, par = kernels.window_grams(batch.tok, batch.parent, batch.n, 1, config.window, 24)
        return h, par
    g, par = ngrams(batch.tok, batch.parent, 1)
    h = mix64(g * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(1)) >> np.uint64(24)
    if h.size == 0:
        return h, par
    first = np.r_[0, np.flatnonzero(par[1:] != par[:-1]) + 1]
    count = np.diff(np.r_[first, par.size])
    rank = np.arange(par.size) - np.repeat(first, count)
    keep = (rank < config.window) | (np.repeat(count, count) - rank <= config.window)
    return h[keep], par[keep]


_STOP_IDS: list[U64] = []


def _stop_word_ids() -> U64:
    """Word ids (as :func:`window_words`) of the stop words of every supported language."""
    if not _STOP_IDS:
        from distillguard.detect.signals.language import STOP_WORDS

        words = sorted({w for ws in STOP_WORDS.values() for w in ws})
        batch = tokenize([" ".join(words)])
        h, _ = window_words(batch, TemplateConfig(window=len(words) + 1))
        _STOP_IDS.append(np.unique(h))
    return _STOP_IDS[0]


class ShingleCounter:
    """Document frequency of shingles in a fixed array of hashed buckets."""

    def __init__(self, config: TemplateConfig) -> None:
        self.config = config
        self.counts = np.zeros(1 << config.df_bits, dtype=np.uint32)
        self.n_prompts = 0

    def _bucket(self, h: U64) -> I64:
        return (h >> np.uint64(40 - self.config.df_bits)).astype(np.int64)

    def update(self, batch: TokenBatch) -> None:
        """Count the shingles of a batch (see :meth:`update_shingles`)."""
        h, _ = window_shingles(batch, self.config)
        self.update_shingles(h, batch.n)

    def update_shingles(self, h: U64, n_prompts: int) -> None:
        """Count shingle ids from :func:`window_shingles` of ``n_prompts`` prompts.

        Occurrences are counted: a phrase repeated inside one prompt counts more than once,
        which only matters for repeated payload text.
        """
        if h.size and kernels.HAVE_NUMBA:
            kernels.bump(self.counts, h, np.uint64(40 - self.config.df_bits))
        elif h.size:
            self.counts += np.bincount(self._bucket(h), minlength=self.counts.size).astype(
                np.uint32
            )
        self.n_prompts += n_prompts

    def df(self, h: U64) -> npt.NDArray[np.uint32]:
        """Estimated document frequency of each shingle (an upper bound)."""
        if kernels.HAVE_NUMBA:
            out: npt.NDArray[np.uint32] = kernels.lookup(
                self.counts, h, np.uint64(40 - self.config.df_bits)
            )
            return out
        return self.counts[self._bucket(h)]


def minhash(h: U64, parent: I64, n: int, num_perm: int, seed: int) -> npt.NDArray[np.uint32]:
    """MinHash signatures (n x num_perm, uint32) of sets given as sorted (hash, parent).

    Rows without elements are all ``0xFFFFFFFF``.
    """
    out = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if h.size == 0:
        return out
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    if kernels.HAVE_NUMBA:
        sig: npt.NDArray[np.uint32] = kernels.minhash_rows(h, parent, n, a, b)
        return sig
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    rows = parent[starts]
    with np.errstate(over="ignore"):
        for j in range(num_perm):
            v = ((h * a[j] + b[j]) >> np.uint64(32)).astype(np.uint32)
            out[rows, j] = np.minimum.reduceat(v, starts)
    return out


def _agreement(
    x: npt.NDArray[np.uint32], ia: I64, y: npt.NDArray[np.uint32], ib: I64
) -> npt.NDArray[np.float32]:
    """Estimated Jaccard (share of equal MinHash values) of row pairs ``x[ia]``, ``y[ib]``."""
    if kernels.HAVE_NUMBA:
        out: npt.NDArray[np.float32] = kernels.agreement(x, ia, y, ib)
        return out
    same: npt.NDArray[np.float32] = (x[ia] == y[ib]).mean(axis=1).astype(np.float32)
    return same


def _band_keys(sig: npt.NDArray[np.uint32], bands: int) -> U64:
    r = sig.shape[1] // bands
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            acc = np.full(sig.shape[0], np.uint64(band + 1) * np.uint64(0x9E3779B97F4A7C15))
            for j in range(band * r, (band + 1) * r):
                acc = mix64(acc ^ sig[:, j].astype(np.uint64))
            keys[:, band] = acc
    return keys


def _band_pairs(keys: U64) -> tuple[I64, I64]:
    """(head, member) pairs of rows that share a band key, the head being the first row."""
    ea: list[I64] = []
    eb: list[I64] = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        k = keys[order, band]
        head_idx = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        head = order[np.repeat(head_idx, np.diff(np.r_[head_idx, k.size]))]
        other = head != order
        ea.append(head[other])
        eb.append(order[other])
    return np.concatenate(ea), np.concatenate(eb)


def _components(n: int, a: I64, b: I64) -> I64:
    """Connected components (label = smallest member) of n nodes and edges (a, b)."""
    label = np.arange(n, dtype=np.int64)
    if a.size == 0:
        return label
    while True:
        before = label.copy()
        la, lb = label[a], label[b]
        m = np.minimum(la, lb)
        np.minimum.at(label, la, m)
        np.minimum.at(label, lb, m)
        label = label[label]
        label = label[label]
        if np.array_equal(label, before):
            return label


class FamilyIndex:
    """Assigns family ids batch by batch, consistently across batches.

    Call :meth:`assign` for each batch (after the :class:`ShingleCounter` has seen all of
    them), then :meth:`resolve` to map provisional ids to final ones (families found to be
    one across batches are merged). State is numpy arrays: sorted band keys with their
    family, each family's first signature, a union-find parent array and member counts. At
    most ``KEYS_PER_FAMILY`` members of a family contribute band keys, which bounds memory by
    the number of families, not of prompts.
    """

    KEYS_PER_FAMILY = 32

    def __init__(self, counter: ShingleCounter) -> None:
        self.counter = counter
        self.config = counter.config
        self._keys = np.empty(0, np.uint64)
        self._key_fam = np.empty(0, np.int64)
        self._rep = np.empty((0, self.config.num_perm), np.uint32)
        self._parent = np.empty(0, np.int64)
        self._size = np.empty(0, np.int64)
        self._keyed = np.empty(0, np.int64)
        # sampled members' words per family, for the paraphrase-tolerant merge
        self._vocab_fam: list[I64] = []
        self._vocab_word: list[U64] = []
        self._vocab_members = np.empty(0, np.int64)

    def _roots(self, f: I64) -> I64:
        r = self._parent[f]
        while True:
            nxt = self._parent[r]
            if np.array_equal(nxt, r):
                return r
            r = nxt

    def _compress(self) -> None:
        self._parent = self._roots(np.arange(self._parent.size, dtype=np.int64))

    def assign(self, batch: TokenBatch) -> I64:
        """Provisional family id per prompt of the batch (``-1``: no wrapper)."""
        h, par = window_shingles(batch, self.config)
        w, wpar = window_words(batch, self.config)
        return self.assign_shingles(h, par, batch.n, (w, wpar))

    def assign_shingles(
        self, h: U64, par: I64, n: int, words: tuple[U64, I64] | None = None
    ) -> I64:
        """:meth:`assign` from the :func:`window_shingles` of a batch of ``n`` prompts.

        ``words`` (from :func:`window_words`) feeds the paraphrase-tolerant merge.
        """
        cfg = self.config
        fam = np.full(n, -1, dtype=np.int64)
        keep = self.counter.df(h) >= cfg.min_df
        h, par = h[keep], par[keep]
        if h.size == 0:
            return fam
        cnt = np.bincount(par, minlength=n)
        elig = np.flatnonzero(cnt >= cfg.min_shingles)
        if elig.size == 0:
            return fam
        sel = cnt[par] >= cfg.min_shingles
        h, par = h[sel], par[sel]
        # prompts whose kept shingles are the same multiset (one wrapper, payload filtered
        # out) share a signature: sketch and index one representative of each
        local = np.full(n, -1, dtype=np.int64)
        local[elig] = np.arange(elig.size)
        starts = np.flatnonzero(np.r_[True, par[1:] != par[:-1]])
        setkey = np.add.reduceat(mix64(h), starts)
        _, reps, inv = np.unique(setkey, return_index=True, return_inverse=True)
        m = reps.size
        rep_of = np.full(elig.size, -1, dtype=np.int64)
        rep_of[reps] = np.arange(m)
        lp = local[par]
        take = rep_of[lp] >= 0
        sig = minhash(h[take], rep_of[lp[take]], m, cfg.num_perm, cfg.seed)
        keys = _band_keys(sig, cfg.bands)
        # within the batch: rows sharing a band key, verified against their group head
        a, b = _band_pairs(keys)
        if a.size:
            agree = _agreement(sig, a, sig, b) >= cfg.threshold
            a, b = a[agree], b[agree]
        comp = _components(m, a, b)
        # across batches: band keys owned by a family, verified against its first member
        n_old = self._parent.size
        comp_fam = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
        if self._keys.size:
            flat = keys.ravel()
            pos = np.minimum(np.searchsorted(self._keys, flat), self._keys.size - 1)
            hit = np.flatnonzero(self._keys[pos] == flat)
            rows = hit // cfg.bands
            fams = self._roots(self._key_fam[pos[hit]])
            ok = _agreement(sig, rows, self._rep, fams) >= cfg.threshold
            rows, fams = rows[ok], fams[ok]
            if rows.size:
                np.minimum.at(comp_fam, comp[rows], fams)
                # every family a component touches joins the smallest one
                target = comp_fam[comp[rows]]
                self._parent[fams] = np.minimum(self._parent[fams], target)
                self._compress()
        roots = np.unique(comp)
        new = roots[comp_fam[roots] == np.iinfo(np.int64).max]
        comp_fam[new] = n_old + np.arange(new.size)
        if new.size:
            self._parent = np.concatenate([self._parent, n_old + np.arange(new.size)])
            self._size = np.concatenate([self._size, np.zeros(new.size, np.int64)])
            self._keyed = np.concatenate([self._keyed, np.zeros(new.size, np.int64)])
            self._rep = np.concatenate([self._rep, sig[new]])  # comp label = first member
        rep_fam = self._roots(comp_fam[comp])
        row_fam = rep_fam[inv]
        np.add.at(self._size, row_fam, 1)
        self._add_keys(keys, rep_fam)
        fam[elig] = row_fam
        if words is not None and cfg.paraphrase_threshold > 0:
            self._sample_words(elig, row_fam, *words)
        return fam

    VOCAB_MEMBERS = 12

    def _sample_words(self, rows: I64, row_fam: I64, w: U64, wpar: I64) -> None:
        """Keep the distinct words of up to ``VOCAB_MEMBERS`` members of each family."""
        if self._vocab_members.size < self._parent.size:
            grow = self._parent.size - self._vocab_members.size
            self._vocab_members = np.concatenate([self._vocab_members, np.zeros(grow, np.int64)])
        order = np.argsort(row_fam, kind="stable")
        f = row_fam[order]
        first = np.r_[True, f[1:] != f[:-1]]
        rank = np.arange(f.size) - np.maximum.accumulate(np.where(first, np.arange(f.size), 0))
        take = order[rank + self._vocab_members[f] < self.VOCAB_MEMBERS]
        if take.size == 0:
            return
        np.add.at(self._vocab_members, row_fam[take], 1)
        member_fam = np.full(int(wpar.max(initial=-1)) + 1, -1, dtype=np.int64)
        sel_rows = rows[take]
        sel_rows = sel_rows[sel_rows < member_fam.size]
        member_fam[sel_rows] = row_fam[np.searchsorted(rows, sel_rows)]
        if kernels.HAVE_NUMBA:
            prompt, word = kernels.distinct_per_row(w, wpar, member_fam >= 0)
        else:
            keep = member_fam[wpar] >= 0
            key = np.unique((wpar[keep].astype(np.uint64) << np.uint64(40)) | w[keep])
            prompt = (key >> np.uint64(40)).astype(np.int64)
            word = key & np.uint64((1 << 40) - 1)
        self._vocab_fam.append(member_fam[prompt])
        self._vocab_word.append(word)

    def _merge_paraphrases(self) -> None:
        """Join families whose wrapper vocabularies are similar (see ``TemplateConfig``)."""
        cfg = self.config
        if not self._vocab_fam or cfg.paraphrase_threshold <= 0:
            return
        roots = self._roots(np.arange(self._parent.size, dtype=np.int64))
        sampled = np.zeros(roots.size, dtype=np.int64)
        sampled[: self._vocab_members.size] = self._vocab_members
        members = np.zeros(roots.size, dtype=np.int64)
        np.add.at(members, roots, sampled)
        fam = roots[np.concatenate(self._vocab_fam)]
        word = np.concatenate(self._vocab_word)
        stop = _stop_word_ids()
        pos = np.minimum(np.searchsorted(stop, word), stop.size - 1)
        fam, word = fam[stop[pos] != word], word[stop[pos] != word]
        key, count = np.unique((fam.astype(np.uint64) << np.uint64(40)) | word, return_counts=True)
        fam = (key >> np.uint64(40)).astype(np.int64)
        word = key & np.uint64((1 << 40) - 1)
        # a family's wrapper words: in 3/4 of its sampled members (two at least)
        core = (members[fam] >= 2) & (4 * count >= 3 * members[fam])
        fam, word = fam[core], word[core]
        size = np.bincount(fam, minlength=roots.size)
        ok = size[fam] >= cfg.paraphrase_min_words
        fam, word = fam[ok], word[ok]
        if fam.size == 0:
            return
        ids, local = np.unique(fam, return_inverse=True)
        # families are few: a finer sketch (128 values, 64 bands of 2) costs nothing here
        sig = minhash(word, local, ids.size, 128, cfg.seed + 1)
        a, b = _band_pairs(_band_keys(sig, 64))
        agree = _agreement(sig, a, sig, b) >= cfg.paraphrase_threshold
        a, b = ids[a[agree]], ids[b[agree]]
        if a.size:
            comp = _components(roots.size, a, b)
            self._parent = np.minimum(self._parent, comp[roots])
            self._compress()

    def _add_keys(self, keys: U64, row_fam: I64) -> None:
        """Index the band keys of up to KEYS_PER_FAMILY members per family."""
        order = np.argsort(row_fam, kind="stable")
        f = row_fam[order]
        first = np.r_[True, f[1:] != f[:-1]]
        rank = np.arange(f.size) - np.maximum.accumulate(np.where(first, np.arange(f.size), 0))
        take = order[rank + self._keyed[f] < self.KEYS_PER_FAMILY]
        if take.size == 0:
            return
        np.add.at(self._keyed, row_fam[take], 1)
        k = keys[take].ravel()
        kf = np.repeat(row_fam[take], keys.shape[1])
        fresh = np.ones(k.size, dtype=bool)
        if self._keys.size:
            pos = np.minimum(np.searchsorted(self._keys, k), self._keys.size - 1)
            fresh = self._keys[pos] != k
        k, kf = k[fresh], kf[fresh]
        k, idx = np.unique(k, return_index=True)
        kf = kf[idx]
        at = np.searchsorted(self._keys, k)
        self._keys = np.insert(self._keys, at, k)
        self._key_fam = np.insert(self._key_fam, at, kf)

    def resolve(self, provisional: I64) -> I64:
        """Final family ids (dense, from 0) for provisional ids.

        ``-1`` stays ``-1``; a family of a single distinct prompt becomes ``-1`` too (one
        prompt is not a template).
        """
        self._merge_paraphrases()
        roots = self._roots(np.arange(self._parent.size, dtype=np.int64))
        size = np.zeros(roots.size, dtype=np.int64)
        np.add.at(size, roots, self._size)
        real = size[roots] >= 2
        dense = np.full(roots.size, -1, dtype=np.int64)
        if real.any():
            _, inv = np.unique(roots[real], return_inverse=True)
            dense[real] = inv
        out = np.full(provisional.size, -1, dtype=np.int64)
        ok = provisional >= 0
        out[ok] = dense[provisional[ok]]
        return out


def assign_families(prompts: Sequence[str | None], config: TemplateConfig | None = None) -> I64:
    """Family id per prompt of one in-memory collection (``-1``: no wrapper found)."""
    cfg = config or TemplateConfig()
    batch = tokenize(prompts)
    counter = ShingleCounter(cfg)
    counter.update(batch)
    index = FamilyIndex(counter)
    return index.resolve(index.assign(batch))
