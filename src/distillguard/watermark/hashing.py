"""Vectorised keyed hashing of (context, token) pairs with numpy.

The green list of KGW-style schemes is defined pointwise: a pair (context, token) is green
when a keyed 64-bit hash of it falls below ``gamma * 2**64``. Defining it pointwise (rather
than as a seeded permutation of the vocabulary) lets the detector score a whole text with a
handful of array operations and lets the generator compute the mask over the vocabulary the
same way. The mixer is SplitMix64's finaliser (Steele et al., 2014), a bijection on 64-bit
words with full avalanche; the key enters as a 64-bit word of HKDF output.

All arithmetic is on ``uint64`` arrays, where numpy wraps modulo 2**64 silently (scalar
arithmetic would warn), so every function takes and returns arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

U64 = np.uint64
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)
_GOLDEN = U64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = U64(30), U64(27), U64(31)

Words = NDArray[np.uint64]


def mix64(x: Words) -> Words:
    """SplitMix64 finaliser applied elementwise (a bijection on uint64)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def as_words(values: NDArray[np.integer] | list[int]) -> Words:
    """Return ``values`` as a uint64 array (token ids are non-negative)."""
    return np.asarray(values, dtype=np.int64).astype(np.uint64)


def key_word(key: int) -> Words:
    """A 64-bit key word as a one-element array (keeps arithmetic in array land)."""
    return np.array([key & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)


def context_hashes(ids: Words, width: int, key: int) -> Words:
    """Keyed hash of the ``width`` tokens before each position ``width..len(ids)-1``.

    Order-sensitive chain: ``h = mix(key ^ t[i-1]); h = mix(h ^ t[i-2]) ...``. Returns an
    array of length ``len(ids) - width`` (empty when the text is too short); for
    ``width == 0`` one constant per position.
    """
    n = ids.size - width
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.repeat(key_word(key), n)
    for back in range(1, width + 1):
        h = mix64(h ^ ids[width - back : ids.size - back])
    return h if width else mix64(h)


def pair_hashes(ctx: Words, tokens: Words, key2: int) -> Words:
    """Keyed hash of (context hash, token) pairs (arrays broadcast)."""
    return mix64(mix64(ctx ^ (tokens * _GOLDEN)) ^ key_word(key2))


def threshold(gamma: float) -> np.uint64:
    """The uint64 threshold below which a hash counts as green for fraction ``gamma``."""
    return np.uint64(min(int(gamma * 2.0**64), 2**64 - 1))


def token_hashes(tokens: Words, key: int) -> Words:
    """Keyed hash of single tokens (used by the self-hash min-anchor)."""
    return mix64(tokens ^ key_word(key))


def tuple_ids(ids: Words, width: int) -> Words:
    """Unkeyed 64-bit identity of each (window, token) tuple, for de-duplication.

    Position ``i`` (``i >= width``) gets a hash of ``ids[i-width..i]``; collisions among a
    few million tuples have probability ~1e-7 and would only drop a tuple from scoring.
    """
    n = ids.size - width
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = mix64(ids[width:] ^ U64(0x5BD1E995))
    for back in range(1, width + 1):
        h = mix64(h ^ ids[width - back : ids.size - back])
    return h
