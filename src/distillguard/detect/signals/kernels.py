"""Compiled inner loops of the request signals (numba), one pass over bytes or tokens each.

Why compiled: the numpy formulation of tokenisation and feature lookup needs a dozen full
passes over every byte and token of a batch (masks, shifts, gathers, reductions), and that
memory traffic, not arithmetic, bounded annotation at ~10k prompts/s. Each kernel here reads
its input once. Semantics are fixed by the readable references (``text.tokens_py``,
``text.ngrams``, ``cues.CueTable``) and the tests compare both.

The functions are plain Python first (they run, slowly, without numba) and are compiled with
``numba.njit`` when numba is importable; the compiled version is cached on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]

try:  # numba is a dependency; the fallback keeps the package importable without it
    import numba

    def _jit(fn: Callable[..., Any], parallel: bool = False) -> Callable[..., Any]:
        return cast(
            Callable[..., Any],
            numba.njit(cache=True, nogil=True, parallel=parallel, error_model="numpy")(fn),
        )

    _prange: Callable[..., Any] = numba.prange
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing

    def _jit(fn: Callable[..., Any], parallel: bool = False) -> Callable[..., Any]:
        return fn

    _prange = range
    HAVE_NUMBA = False

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


def _mix(x: np.uint64) -> np.uint64:
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


_mix_j = _jit(_mix)


def _row_ranges(data: Any, lo: int, hi: int, head: int, tail: int) -> tuple[int, int, int, int]:
    """Byte ranges kept of one text: all of it, or its first ``head`` and last ``tail`` chars."""
    nchar = 0
    for i in range(lo, hi):
        if data[i] & 0xC0 != 0x80:
            nchar += 1
    if nchar <= head + tail:
        return nchar, hi, hi, hi
    c = 0
    head_end = hi
    tail_start = hi
    for i in range(lo, hi):
        if data[i] & 0xC0 != 0x80:
            if c == head:
                head_end = i
            if c == nchar - tail:
                tail_start = i
                break
            c += 1
    return nchar, head_end, tail_start, hi


_row_ranges_j = _jit(_row_ranges)


def _scan(
    data: Any,
    lo: int,
    hi: int,
    word: Any,
    value: Any,
    tok: Any,
    at: int,
    zero: np.uint64,
    prime: np.uint64,
    script2: Any,
    scripts: Any,
    row: int,
) -> tuple[int, int]:
    """Tokenise bytes ``[lo, hi)`` into ``tok[at:]``; returns (tokens, continuation bytes).

    Also counts the characters of each script of the text into ``scripts[row]``.
    """
    n = 0
    cont = 0
    i = lo
    while i < hi:
        b = data[i]
        if not word[b]:
            i += 1
            continue
        h = np.uint64(0)
        pw = np.uint64(1)
        if b >= 0xE0:  # a 3- or 4-byte character is a token of its own
            end = min(i + (4 if b >= 0xF0 else 3), hi)
            if i + 1 < hi:
                k = script2[(np.int64(b) << 8) | np.int64(data[i + 1])]
                if k >= 0:
                    scripts[row, k] += 1
            cont += end - i - 1
            while i < end:
                h += value[data[i]] * pw
                pw *= prime
                i += 1
        else:
            while i < hi:
                b = data[i]
                if not word[b] or b >= 0xE0:
                    break
                if b >= 0x80:
                    if b < 0xC0:
                        cont += 1
                    elif i + 1 < hi:
                        k = script2[(np.int64(b) << 8) | np.int64(data[i + 1])]
                        if k >= 0:
                            scripts[row, k] += 1
                h += value[b] * pw
                pw *= prime
                i += 1
        tok[at + n] = _mix_j(zero if h == 0 else h)
        n += 1
    return n, cont


_scan_j = _jit(_scan)


def _tokenize(
    data: Any,
    offs: Any,
    head: int,
    tail: int,
    word: Any,
    value: Any,
    zero: np.uint64,
    prime: np.uint64,
    script2: Any,
    n_scripts: int,
) -> tuple[Any, Any, Any, Any]:
    n = offs.size - 1
    chars = np.zeros(n, dtype=np.int64)
    scripts = np.zeros((n, n_scripts), dtype=np.int32)
    cap = data.size // 4 + 16
    tok = np.empty(cap, dtype=np.uint64)
    parent = np.empty(cap, dtype=np.int64)
    at = 0
    for r in range(n):
        lo, hi = offs[r], offs[r + 1]
        need = at + (hi - lo + 1) // 2 + 1
        if need > cap:
            cap = max(2 * cap, need)
            grown = np.empty(cap, dtype=np.uint64)
            grown[:at] = tok[:at]
            tok = grown
            grown_p = np.empty(cap, dtype=np.int64)
            grown_p[:at] = parent[:at]
            parent = grown_p
        head_end, tail_start, end = hi, hi, hi
        nchar = -1
        if hi - lo > head + tail:  # more bytes than kept characters: maybe too long
            nchar, head_end, tail_start, end = _row_ranges_j(data, lo, hi, head, tail)
        k1, c1 = _scan_j(data, lo, head_end, word, value, tok, at, zero, prime, script2, scripts, r)
        k2, c2 = _scan_j(
            data, tail_start, end, word, value, tok, at + k1, zero, prime, script2, scripts, r
        )
        chars[r] = nchar if nchar >= 0 else (hi - lo) - c1 - c2
        parent[at : at + k1 + k2] = r
        at += k1 + k2
    return tok[:at].copy(), parent[:at].copy(), chars, scripts


tokenize_bytes = _jit(_tokenize)
"""(data, offsets, head, tail, word table, value table, zero hash, prime, script table,
number of scripts) -> (token hashes, parents, characters per text, script counts)."""


def _gram(tok: Any, pos: int, k: int, mul: Any) -> np.uint64:
    acc = np.uint64(0)
    for j in range(k):
        acc += tok[pos + j] * mul[j]
    out: np.uint64 = _mix_j(acc ^ np.uint64(k))
    return out


_gram_j = _jit(_gram)


def _ngram_logits(
    tok: Any, parent: Any, n: int, w: Any, shift: np.uint64, mask: np.uint64, mul: Any
) -> Any:
    m = w.shape[1]
    out = np.zeros((n, m), dtype=np.float32)
    t = tok.size
    for i in range(t):
        r = parent[i]
        b = (tok[i] >> shift) & mask
        for j in range(m):
            out[r, j] += w[b, j]
        if i + 1 < t and parent[i + 1] == r:
            b = (_gram_j(tok, i, 2, mul) >> shift) & mask
            for j in range(m):
                out[r, j] += w[b, j]
    return out


ngram_logits = _jit(_ngram_logits)
"""(tokens, parents, n, weights (dim x m), shift, mask, n-gram multipliers) -> (n x m)
sums of the weights of every unigram and bigram bucket of each text."""


def _ngram_logits_log(
    tok: Any, parent: Any, n: int, w: Any, shift: np.uint64, mask: np.uint64, mul: Any
) -> Any:
    m = w.shape[1]
    out = np.zeros((n, m), dtype=np.float32)
    distinct = np.zeros(n, dtype=np.float32)
    t = tok.size
    # per text, an open-addressing table bucket -> count (slots found again through `used`)
    longest = 0
    i = 0
    while i < t:
        j = i
        while j < t and parent[j] == parent[i]:
            j += 1
        longest = max(longest, j - i)
        i = j
    size = 64  # at least twice the buckets of the longest text: probes always end
    while size < 4 * longest + 4:
        size *= 2
    keys = np.full(size, np.uint64(0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    counts = np.zeros(size, dtype=np.int32)
    used = np.empty(size, dtype=np.int64)
    i = 0
    while i < t:
        r = parent[i]
        j = i
        while j < t and parent[j] == r:
            j += 1
        tsize = 64
        while tsize < 4 * (j - i) + 4:
            tsize *= 2
        tmask = np.uint64(tsize - 1)
        nu = 0
        for p in range(i, j):
            for g in range(2):
                if g == 0:
                    b = (tok[p] >> shift) & mask
                elif p + 1 < j:
                    b = (_gram_j(tok, p, 2, mul) >> shift) & mask
                else:
                    break
                s = np.int64((b * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40) & tmask)
                while keys[s] != b and keys[s] != np.uint64(0xFFFFFFFFFFFFFFFF):
                    s = np.int64((np.uint64(s) + np.uint64(1)) & tmask)
                if keys[s] != b:
                    keys[s] = b
                    used[nu] = s
                    nu += 1
                counts[s] += 1
        for q in range(nu):
            s = used[q]
            f = np.float32(1.0 + np.log(np.float64(counts[s])))
            b = keys[s]
            for c in range(m):
                out[r, c] += f * w[b, c]
            keys[s] = np.uint64(0xFFFFFFFFFFFFFFFF)
            counts[s] = 0
        distinct[r] = nu
        i = j
    return out, distinct


ngram_logits_log = _jit(_ngram_logits_log)
"""(tokens, parents, n, weights (dim x m), shift, mask, n-gram multipliers) -> ((n x m) sums of
``(1 + ln count) * weight`` over the distinct unigram and bigram buckets of each text, and
each text's number of distinct buckets)."""


def _match_grams(
    tok: Any,
    parent: Any,
    keys: Any,
    vals: Any,
    first: Any,
    max_k: int,
    n_ids: int,
    mul: Any,
    distinct: bool,
) -> tuple[Any, Any]:
    """(row, id) of every k-gram (1 <= k <= max_k) found in an open-addressing table."""
    size = keys.size
    cap = 1024
    rows = np.empty(cap, dtype=np.int64)
    ids = np.empty(cap, dtype=np.int64)
    seen = np.full(n_ids, -1, dtype=np.int64)
    found = 0
    t = tok.size
    fmask = np.uint64(first.size - 1)
    for i in range(t):
        lengths = first[tok[i] & fmask]
        if lengths == 0:
            continue
        r = parent[i]
        for k in range(1, max_k + 1):
            if i + k - 1 >= t or parent[i + k - 1] != r:
                break
            if not (lengths >> (k - 1)) & 1:
                continue
            g = _gram_j(tok, i, k, mul) if k > 1 else tok[i]
            slot = np.int64(g & np.uint64(size - 1))
            while keys[slot] != 0:
                if keys[slot] == g:
                    c = vals[slot]
                    if not distinct or seen[c] != r:
                        seen[c] = r
                        if found == cap:
                            cap *= 2
                            grown = np.empty(cap, dtype=np.int64)
                            grown[:found] = rows[:found]
                            rows = grown
                            grown = np.empty(cap, dtype=np.int64)
                            grown[:found] = ids[:found]
                            ids = grown
                        rows[found] = r
                        ids[found] = c
                        found += 1
                slot = (slot + 1) & (size - 1)
    return rows[:found], ids[:found]


match_grams = _jit(_match_grams)
"""(tokens, parents, table keys, table ids, first-token length filter, longest phrase, number of
ids, n-gram multipliers, distinct) -> (rows, ids); with ``distinct`` each id is reported at
most once per text."""


def gram_table(hashes: U64, ids: I64) -> tuple[U64, I64]:
    """An open-addressing hash table (keys, ids) for :data:`match_grams`.

    ``hashes`` may repeat (one phrase in several languages): every (hash, id) pair gets its
    own slot and lookups report all of them. Zero marks an empty slot (a hash of 0 is
    impossible in practice; it would be skipped).
    """
    size = 1 << max(4, int(2 * max(hashes.size, 1) - 1).bit_length())
    keys = np.zeros(size, dtype=np.uint64)
    vals = np.zeros(size, dtype=np.int64)
    mask = size - 1
    for h, i in zip(hashes.tolist(), ids.tolist(), strict=True):
        slot = h & mask
        while keys[slot] != 0:
            if int(keys[slot]) == h and int(vals[slot]) == i:
                break
            slot = (slot + 1) & mask
        keys[slot] = h
        vals[slot] = i
    return keys, vals


def first_filter(first_tokens: U64, lengths: I64, bits: int = 16) -> npt.NDArray[np.uint8]:
    """Per low ``bits`` bits of a phrase's first token, a bit per phrase length (1..8)."""
    table = np.zeros(1 << bits, dtype=np.uint8)
    slot = (first_tokens & np.uint64((1 << bits) - 1)).astype(np.int64)
    np.bitwise_or.at(table, slot, (1 << (lengths - 1)).astype(np.uint8))
    return table


def _count_words(tok: Any, parent: Any, n: int, keys: Any, vals: Any, n_ids: int) -> Any:
    """Per text, occurrences of the words of an open-addressing table, by id (n x n_ids)."""
    out = np.zeros((n, n_ids), dtype=np.int32)
    size = keys.size
    for i in range(tok.size):
        g = tok[i]
        slot = np.int64(g & np.uint64(size - 1))
        while keys[slot] != 0:
            if keys[slot] == g:
                out[parent[i], vals[slot]] += 1
            slot = (slot + 1) & (size - 1)
    return out


count_words = _jit(_count_words)
"""(tokens, parents, n, table keys, table ids, number of ids) -> counts (n x ids, int32)."""


def _window_grams(tok: Any, parent: Any, n: int, k: int, window: int, drop: int) -> Any:
    """Word ``k``-gram hashes (>> ``drop``) of the first and last ``window`` of each text."""
    counts = np.zeros(n + 1, dtype=np.int64)
    t = tok.size
    for i in range(t):
        counts[parent[i] + 1] += 1
    starts = np.zeros(n + 1, dtype=np.int64)
    total = 0
    for r in range(n):
        starts[r] = total
        s = counts[r + 1] - k + 1
        total += min(s, 2 * window) if s > 0 else 0
    starts[n] = total
    h = np.empty(total, dtype=np.uint64)
    par = np.empty(total, dtype=np.int64)
    at = 0
    pos = 0
    for r in range(n):
        s = counts[r + 1] - k + 1
        if s > 0:
            for j in range(s):
                if j < window or j >= s - window:
                    h[at] = _gram_j(tok, pos + j, k, NGRAM_MUL_K) >> np.uint64(drop)
                    par[at] = r
                    at += 1
        pos += counts[r + 1]
    return h, par


# the n-gram multipliers (same values as ``text._NGRAM_MUL``; text imports this module)
NGRAM_MUL_K = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)
window_grams = _jit(_window_grams)
"""(tokens, parents, n, k, window, drop) -> (k-gram hashes >> drop, rows) of the first and
last ``window`` k-grams of each text, in text order."""


def _minhash(h: Any, parent: Any, m: int, a: Any, b: Any) -> Any:
    """MinHash (m x len(a), uint32) of sets given as (element hash, row) sorted by row."""
    num_perm = a.size
    out = np.full((m, num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for i in range(h.size):
        r = parent[i]
        x = h[i]
        for j in range(num_perm):
            v = np.uint32((x * a[j] + b[j]) >> np.uint64(32))
            if v < out[r, j]:
                out[r, j] = v
    return out


minhash_rows = _jit(_minhash)
"""(hashes, rows, number of rows, multipliers, offsets) -> MinHash signatures (uint32)."""


def _agreement(x: Any, ia: Any, y: Any, ib: Any) -> Any:
    """Share of equal columns between rows ``x[ia[i]]`` and ``y[ib[i]]``, for every i."""
    k = x.shape[1]
    out = np.empty(ia.size, dtype=np.float32)
    for i in range(ia.size):
        same = 0
        ra, rb = ia[i], ib[i]
        for j in range(k):
            if x[ra, j] == y[rb, j]:
                same += 1
        out[i] = same / k
    return out


agreement = _jit(_agreement)
"""(x, rows of x, y, rows of y) -> share of equal columns of each pair of rows (float32)."""


def _bump(counts: Any, h: Any, shift: np.uint64) -> None:
    """``counts[h >> shift] += 1`` for every element (a hashed counter)."""
    for i in range(h.size):
        counts[np.int64(h[i] >> shift)] += 1


bump = _jit(_bump)
"""(uint32 counts, hashes, shift): increments the bucket of every hash, in place."""


def _lookup(counts: Any, h: Any, shift: np.uint64) -> Any:
    out = np.empty(h.size, dtype=counts.dtype)
    for i in range(h.size):
        out[i] = counts[np.int64(h[i] >> shift)]
    return out


lookup = _jit(_lookup)
"""(counts, hashes, shift) -> the count of the bucket of every hash."""


def _distinct_per_row(w: Any, wpar: Any, take: Any) -> tuple[Any, Any]:
    """Distinct values of ``w`` per row (``wpar`` sorted), for the rows where ``take``."""
    out_r = np.empty(w.size, dtype=np.int64)
    out_w = np.empty(w.size, dtype=np.uint64)
    at = 0
    i = 0
    while i < w.size:
        r = wpar[i]
        j = i
        while j < w.size and wpar[j] == r:
            j += 1
        if r < take.size and take[r]:
            vals = np.sort(w[i:j])
            for k in range(vals.size):
                if k == 0 or vals[k] != vals[k - 1]:
                    out_r[at] = r
                    out_w[at] = vals[k]
                    at += 1
        i = j
    return out_r[:at].copy(), out_w[:at].copy()


distinct_per_row = _jit(_distinct_per_row)
"""(values, rows sorted, row mask) -> (row, value) pairs, distinct within each taken row."""
