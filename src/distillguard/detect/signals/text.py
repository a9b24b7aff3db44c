"""One vectorised tokenisation pass shared by every signal and by the template families.

Python loops over tokens cost a microsecond each; at millions of prompts that is the whole
time budget. So prompts are tokenised in bulk: Arrow lower-cases and truncates them, the UTF-8
bytes of a whole batch become one numpy array, token boundaries come from a byte lookup table,
and each token gets a 64-bit polynomial hash computed with ``np.add.reduceat``. Word n-grams
combine token hashes. Every consumer (hashed features of the learned models, cue phrases,
stop words, template shingles) works on these integer arrays.

Normalisation: lower case; every digit becomes ``0`` and a token made only of digits hashes
as ``"0"`` (numbers are payload, not wrapper); word characters are ``[a-z0-9_]`` and every
non-ASCII byte; each character of a 3- or 4-byte UTF-8 sequence (CJK, kana, Thai, ...) is its
own token so that scripts without spaces still give useful n-grams. Long prompts keep their
head and tail (wrappers sit there; the payload sits in the middle).

:func:`tokens_py` is the slow, readable reference used for explanations and to test that the
vectorised path agrees with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.detect.signals import kernels

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

#: Characters kept from the start and from the end of a long prompt.
HEAD_CHARS = 1500
TAIL_CHARS = 700
MAX_NGRAM = 4

_P = np.uint64(0x100000001B3)  # FNV prime: odd, so the polynomial hash is well spread
_NGRAM_MUL = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0xD6E8FEB86659FD93),
)

#: the n-gram multipliers as one array (for the compiled kernels)
NGRAM_MUL = np.array(_NGRAM_MUL, dtype=np.uint64)

_WORD = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyz0123456789_":
    _WORD[_c] = True
_WORD[0x80:] = True
# byte -> value in the polynomial hash; digits add nothing, so a number hashes to 0 (then to
# the hash of "0") and digits inside a word are ignored ("gpt4" and "gpt5" are one token)
_VALUE = np.where(_WORD, np.arange(256, dtype=np.uint64) + np.uint64(1), np.uint64(0))
for _c in b"0123456789":
    _VALUE[_c] = 0
#: scripts told apart by the first two bytes of a UTF-8 sequence (see :func:`script_of`)
SCRIPTS: tuple[str, ...] = (
    "latin_ext",
    "greek",
    "cyrillic",
    "hebrew",
    "arabic",
    "devanagari",
    "thai",
    "kana",
    "han",
    "hangul",
)
_SCRIPT2 = np.full(65536, -1, dtype=np.int8)


def _init_scripts() -> None:
    ranges = {
        "latin_ext": (0x00C0, 0x024F),
        "greek": (0x0370, 0x03FF),
        "cyrillic": (0x0400, 0x04FF),
        "hebrew": (0x0590, 0x05FF),
        "arabic": (0x0600, 0x06FF),
        "devanagari": (0x0900, 0x097F),
        "thai": (0x0E00, 0x0E7F),
        "kana": (0x3040, 0x30FF),
        "han": (0x4E00, 0x9FFF),
        "hangul": (0xAC00, 0xD7A3),
    }
    for idx, name in enumerate(SCRIPTS):
        lo, hi = ranges[name]
        for cp in range(lo, hi + 1, 1 if hi - lo < 4096 else 64):
            b = chr(cp).encode("utf-8")
            _SCRIPT2[(b[0] << 8) | b[1]] = idx


_init_scripts()
_PINV = np.uint64(pow(int(_P), -1, 2**64))
_CHUNK_BYTES = 1 << 18
_POWG = np.empty(0, np.uint64)
_PINVG = np.empty(0, np.uint64)
_ZERO_RAW = np.uint64(ord("0") + 1)


def mix64(x: U64) -> U64:
    """SplitMix64 finaliser: spreads the bits of a polynomial hash."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@dataclass(frozen=True, slots=True)
class TokenBatch:
    """Tokens of a batch of prompts, as flat arrays.

    Attributes:
        n: number of prompts.
        tok: token hashes in document order, all prompts concatenated.
        parent: index of the prompt each token belongs to (non-decreasing).
        has_text: per prompt, whether any text was given (False in privacy mode).
        chars: per prompt, length of the original prompt in characters.
        tool_count: per prompt, number of tool schemas sent (0 when unknown).
        context_tok: token hashes of the context (system prompt, earlier turns).
        context_parent: prompt index of each context token.
        scripts: per prompt, characters of each script in :data:`SCRIPTS`, shape (n, k).
        cache: derived arrays shared by the signals of one batch (filled lazily).
    """

    n: int
    tok: U64
    parent: I64
    has_text: npt.NDArray[np.bool_]
    chars: I64
    tool_count: I64
    context_tok: U64
    context_parent: I64
    scripts: npt.NDArray[np.int32]
    cache: dict[str, object]

    def ngrams(self, k: int) -> tuple[U64, I64]:
        """Hashes of the word ``k``-grams that do not cross a prompt boundary, with parents."""
        return ngrams(self.tok, self.parent, k)


def ngrams(tok: U64, parent: I64, k: int) -> tuple[U64, I64]:
    """Word ``k``-gram hashes (order-sensitive) from flat token hashes."""
    if k == 1:
        return tok, parent
    m = tok.size - k + 1
    if m <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    with np.errstate(over="ignore"):
        acc = tok[:m] * _NGRAM_MUL[0]
        for j in range(1, k):
            acc = acc + tok[j : j + m] * _NGRAM_MUL[j]
    ok = parent[:m] == parent[k - 1 : k - 1 + m]
    return mix64(acc[ok] ^ np.uint64(k)), parent[:m][ok]


def window_hashes(tok: U64, pos: I64, k: int) -> U64:
    """Hashes of the k-grams starting at ``pos`` (the caller checks prompt boundaries)."""
    with np.errstate(over="ignore"):
        acc = tok[pos] * _NGRAM_MUL[0]
        for j in range(1, k):
            acc = acc + tok[pos + j] * _NGRAM_MUL[j]
    return mix64(acc ^ np.uint64(k))


def _to_arrow(texts: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        arr = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif isinstance(texts, pa.Array):
        arr = texts
    else:
        arr = pa.array(list(texts), type=pa.string())
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _prepare(arr: pa.Array) -> tuple[pa.Array, I64]:
    """Fill nulls, lower-case, keep head and tail of long texts; returns (texts, lengths)."""
    arr = pc.fill_null(arr, "")
    lengths = np.asarray(pc.utf8_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    low = pc.utf8_lower(arr)
    if lengths.size and int(lengths.max()) > HEAD_CHARS + TAIL_CHARS:
        head = pc.utf8_slice_codeunits(low, 0, HEAD_CHARS)
        tail = pc.utf8_slice_codeunits(low, -TAIL_CHARS)
        cut = pc.binary_join_element_wise(head, tail, " \n ")
        low = pc.if_else(pa.array(lengths > HEAD_CHARS + TAIL_CHARS), cut, low)
    return low, lengths


def _bytes_and_offsets(arr: pa.Array) -> tuple[npt.NDArray[np.uint8], I64]:
    arr = pa.concat_arrays([arr])  # zero offset, compact buffers
    bufs = arr.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(arr) + 1).astype(np.int64)
    data = (
        np.frombuffer(bufs[2], dtype=np.uint8, count=int(offs[-1]))
        if bufs[2] is not None and offs[-1] > 0
        else np.empty(0, np.uint8)
    )
    return data, offs


def _pow_tables() -> tuple[U64, U64]:
    global _POWG, _PINVG
    if _POWG.size == 0:
        with np.errstate(over="ignore"):
            pw = np.cumprod(np.full(_CHUNK_BYTES, _P, dtype=np.uint64), dtype=np.uint64)
            _POWG = np.concatenate([np.ones(1, np.uint64), pw]).astype(np.uint64)
            pi = np.cumprod(np.full(_CHUNK_BYTES, _PINV, dtype=np.uint64), dtype=np.uint64)
            _PINVG = np.concatenate([np.ones(1, np.uint64), pi]).astype(np.uint64)
    return _POWG, _PINVG


def _script_counts(data: npt.NDArray[np.uint8], offs: I64, n: int) -> npt.NDArray[np.int32]:
    """Per text, how many characters of each script in :data:`SCRIPTS` it has."""
    out = np.zeros((n, len(SCRIPTS)), dtype=np.int32)
    lead = np.flatnonzero(data[:-1] >= 0xC0)
    if lead.size == 0:
        return out
    key = (data[lead].astype(np.int64) << 8) | data[lead + 1]
    cat = _SCRIPT2[key]
    ok = cat >= 0
    row = np.searchsorted(offs, lead[ok], side="right") - 1
    np.add.at(out, (row, cat[ok].astype(np.int64)), 1)
    return out


def _tokenize_chunk(data: npt.NDArray[np.uint8], offs: I64) -> tuple[U64, I64]:
    """Tokenise one chunk of bytes (``offs`` relative to ``data``, starting at 0)."""
    powg, pinvg = _pow_tables()
    word = _WORD[data]
    tok_start = word.copy()
    tok_start[1:] &= ~word[:-1]
    str_starts = offs[:-1][offs[:-1] < offs[1:]]
    tok_start[str_starts] = word[str_starts]
    # each character of a 3/4-byte UTF-8 sequence is a token of its own
    lead3 = np.flatnonzero(data >= 0xE0)
    if lead3.size:
        tok_start[lead3] = True
        after = lead3 + np.where(data[lead3] >= 0xF0, 4, 3)
        after = after[after < data.size]
        tok_start[after] = word[after]
    starts = np.flatnonzero(tok_start)
    if starts.size == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    with np.errstate(over="ignore"):
        contrib = _VALUE[data] * powg[: data.size]
        h = np.add.reduceat(contrib, starts) * pinvg[starts]
    h[h == 0] = _ZERO_RAW
    parent = np.searchsorted(offs, starts, side="right") - 1
    return mix64(h), parent.astype(np.int64)


def tokenize_arrow(
    arr: pa.Array, *, scripts: bool = False
) -> tuple[U64, I64, I64, npt.NDArray[np.int32]]:
    """Tokenise texts; returns (token hashes, parents, character lengths, script counts).

    Uses the compiled kernel (:mod:`.kernels`) when numba is available, else numpy.
    """
    if kernels.HAVE_NUMBA:
        data, offs = _bytes_and_offsets(pc.utf8_lower(pc.fill_null(arr, "")))
        tok, parent, chars, sc = kernels.tokenize_bytes(
            data, offs, HEAD_CHARS, TAIL_CHARS, _WORD, _VALUE, _ZERO_RAW, _P, _SCRIPT2,
            len(SCRIPTS),
        )  # fmt: skip
        if not scripts:
            sc = np.zeros((len(offs) - 1, len(SCRIPTS)), np.int32)
        return tok, parent, chars, sc
    return tokenize_arrow_numpy(arr, scripts=scripts)


def tokenize_arrow_numpy(
    arr: pa.Array, *, scripts: bool = False
) -> tuple[U64, I64, I64, npt.NDArray[np.int32]]:
    """The numpy tokeniser (fallback without numba; the kernel must agree with it)."""
    low, lengths = _prepare(arr)
    data, offs = _bytes_and_offsets(low)
    n = len(offs) - 1
    sc = (
        _script_counts(data, offs, n)
        if scripts and data.size
        else np.zeros((n, len(SCRIPTS)), np.int32)
    )
    if data.size == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64), lengths, sc
    toks: list[U64] = []
    parents: list[I64] = []
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(offs, offs[lo] + _CHUNK_BYTES, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        b0, b1 = int(offs[lo]), int(offs[hi])
        if b1 > b0:
            h, par = _tokenize_chunk(data[b0:b1], offs[lo : hi + 1] - b0)
            toks.append(h)
            parents.append(par + lo)
        lo = hi
    if not toks:
        return np.empty(0, np.uint64), np.empty(0, np.int64), lengths, sc
    return np.concatenate(toks), np.concatenate(parents), lengths, sc


def tokenize(
    prompts: Sequence[str | None] | pa.Array | pa.ChunkedArray,
    contexts: Sequence[str | None] | pa.Array | pa.ChunkedArray | None = None,
    tool_counts: Sequence[int | None] | npt.NDArray[np.int64] | None = None,
) -> TokenBatch:
    """Tokenise a batch of prompts (and optional contexts) into a :class:`TokenBatch`."""
    parr = _to_arrow(prompts)
    n = len(parr)
    has_text = np.asarray(parr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    tok, parent, chars, scripts = tokenize_arrow(parr, scripts=True)
    if contexts is not None:
        carr = _to_arrow(contexts)
        if len(carr) != n:
            raise ValueError(f"{len(carr)} contexts for {n} prompts")
        ctok, cparent, _, _ = tokenize_arrow(carr)
    else:
        ctok, cparent = np.empty(0, np.uint64), np.empty(0, np.int64)
    if tool_counts is None:
        tools = np.zeros(n, dtype=np.int64)
    else:
        if isinstance(tool_counts, np.ndarray):
            tools = np.asarray(tool_counts, dtype=np.float64)
        else:
            tools = np.asarray([0 if t is None else t for t in tool_counts], dtype=np.float64)
        tools = np.nan_to_num(tools, nan=0.0).astype(np.int64)
        if tools.size != n:
            raise ValueError(f"{tools.size} tool counts for {n} prompts")
    return TokenBatch(n, tok, parent, has_text, chars, tools, ctok, cparent, scripts, {})


# --- the slow reference path ------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9_\u0080-\U0010ffff]+")


def _split_wide(word: str) -> list[str]:
    """Split a word so that each character encoded in 3+ UTF-8 bytes stands alone."""
    out: list[str] = []
    cur = ""
    for ch in word:
        if ord(ch) >= 0x800:
            if cur:
                out.append(cur)
                cur = ""
            out.append(ch)
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def tokens_py(text: str) -> list[str]:
    """The tokens of one text, as strings, normalised exactly like :func:`tokenize`."""
    low = text.lower()
    if len(low) > HEAD_CHARS + TAIL_CHARS:
        low = low[:HEAD_CHARS] + " \n " + low[-TAIL_CHARS:]
    out: list[str] = []
    for w in _WORD_RE.findall(low):
        for t in _split_wide(w):
            digitless = re.sub(r"[0-9]", "", t)
            out.append(t if digitless else "0")
    return out


def hash_tokens(tokens: Sequence[str]) -> U64:
    """Hash token strings the way :func:`tokenize` does (for phrases and explanations)."""
    if not tokens:
        return np.empty(0, np.uint64)
    return tokenize([" ".join(tokens)]).tok


def hash_phrase(phrase: str) -> tuple[int, int]:
    """Return (k, hash) of a phrase: its token count and its k-gram hash."""
    toks = tokenize([phrase])
    k = int(toks.tok.size)
    if k == 0 or k > MAX_NGRAM:
        raise ValueError(f"phrase {phrase!r} must have 1..{MAX_NGRAM} tokens, has {k}")
    g, _ = toks.ngrams(k)
    return k, int(g[0])
