"""Prompt-template fingerprints: match paraphrased variants, reveal no customer text.

A distillation campaign wraps many different payloads in a few wrappers ("Solve the problem
below. Write out your full reasoning step by step ..."). The wrapper is the actor's, the
payload may be anyone's. A fingerprint is built from the *wrapper* only:

1. Each prompt is normalised (lower case, digits to ``0``, punctuation to spaces) and cut into
   word bigrams (shingles).
2. Prompts are grouped by their frequent shingles (leader clustering on Jaccard similarity).
3. In a group, only shingles present in at least ``min_support`` of its prompts *and* sent by
   at least ``min_accounts`` distinct accounts are kept: payload text, which differs per
   prompt, never qualifies.
4. Each kept shingle is hashed with the community key (keyed BLAKE2b, 64 bits) and the ``k``
   smallest hashes form the fingerprint: a uniform random sample of the wrapper's shingles
   under a hash only key holders can compute.

A local prompt matches when the share of the fingerprint's hashes found among its own keyed
shingle hashes (an estimate of how much of the wrapper it contains) reaches ``threshold``.
Rewording part of the wrapper removes only the shingles that touch the changed words, so
paraphrases still match; unrelated prompts share almost none.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from distillguard.intel.keys import CommunityKey

ALGORITHM = "bottomk-blake2b64-word2-v1"

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def tokens(text: str) -> list[str]:
    """Normalised word tokens of ``text``."""
    return _NON_WORD.sub(" ", _DIGITS.sub("0", text.lower())).split()


def shingles(text: str) -> set[str]:
    """Word bigrams of the normalised text (unigrams for one-word texts)."""
    toks = tokens(text)
    if len(toks) < 2:
        return set(toks)
    return {f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One template fingerprint.

    Attributes:
        hashes: the ``k`` smallest keyed shingle hashes (16 hex characters each), sorted.
        wrapper_size: how many wrapper shingles were sampled from.
        prompts: prompts of the campaign in this template group.
        accounts: distinct accounts that sent them.
        key_id: id of the community key used.
        threshold: containment at or above which a prompt matches.
    """

    hashes: tuple[str, ...]
    wrapper_size: int
    prompts: int
    accounts: int
    key_id: str
    threshold: float = 0.5
    algorithm: str = ALGORITHM

    @property
    def digest(self) -> str:
        """A stable id of the fingerprint (SHA-256 of its hashes)."""
        return hashlib.sha256(",".join(self.hashes).encode()).hexdigest()


class ShingleHasher:
    """Keyed shingle hashes of prompts, with a cache (shingles repeat across prompts)."""

    def __init__(self, key: CommunityKey, cache_limit: int = 2_000_000) -> None:
        self.key = key
        self._cache: dict[str, int] = {}
        self._limit = cache_limit

    def hash_shingle(self, shingle: str) -> int:
        """The keyed 64-bit hash of one shingle."""
        h = self._cache.get(shingle)
        if h is None:
            h = self.key.token_hash(shingle)
            if len(self._cache) < self._limit:
                self._cache[shingle] = h
        return h

    def hash_text(self, text: str) -> set[int]:
        """Keyed hashes of every shingle of ``text``."""
        return {self.hash_shingle(s) for s in shingles(text)}


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def _groups(sets: Sequence[set[str]], min_similarity: float) -> list[list[int]]:
    """Leader clustering: each set joins the first leader it resembles, else leads a group."""
    leaders: list[set[str]] = []
    members: list[list[int]] = []
    for i, s in enumerate(sets):
        if not s:
            continue
        for g, lead in enumerate(leaders):
            if _jaccard(s, lead) >= min_similarity:
                members[g].append(i)
                break
        else:
            leaders.append(s)
            members.append([i])
    return members


def build_fingerprints(
    prompts: Iterable[tuple[str, str]],
    key: CommunityKey,
    *,
    k: int = 64,
    min_support: float = 0.5,
    min_accounts: int = 3,
    min_prompts: int = 10,
    min_shingles: int = 4,
    threshold: float = 0.5,
) -> list[Fingerprint]:
    """Fingerprints of the templates in a campaign's ``(account_id, prompt_text)`` pairs.

    Args:
        prompts: the campaign's prompts with the account that sent each.
        key: the community key.
        k: hashes kept per fingerprint.
        min_support: a shingle must appear in this share of a group's prompts.
        min_accounts: ... and be sent by this many distinct accounts.
        min_prompts: smallest group that yields a fingerprint.
        min_shingles: smallest wrapper (in shingles) that yields a fingerprint.
        threshold: containment at which a local prompt matches (stored in the fingerprint).
    """
    rows = [(acct, shingles(text)) for acct, text in prompts if text]
    if not rows:
        return []
    df = Counter(s for _, sh in rows for s in sh)
    floor = max(2, int(0.05 * len(rows)))
    frequent = [{s for s in sh if df[s] >= floor} for _, sh in rows]
    out: list[Fingerprint] = []
    for group in _groups(frequent, 0.4):
        if len(group) < min_prompts:
            continue
        gdf: Counter[str] = Counter()
        owners: dict[str, set[str]] = {}
        for i in group:
            acct, sh = rows[i]
            for s in sh:
                gdf[s] += 1
                owners.setdefault(s, set()).add(acct)
        need = min_support * len(group)
        wrapper = [s for s, n in gdf.items() if n >= need and len(owners[s]) >= min_accounts]
        accounts = {rows[i][0] for i in group}
        if len(wrapper) < min_shingles or len(accounts) < min_accounts:
            continue
        hashed = sorted({key.token_hash(s) for s in wrapper})[:k]
        out.append(
            Fingerprint(
                hashes=tuple(f"{h:016x}" for h in hashed),
                wrapper_size=len(wrapper),
                prompts=len(group),
                accounts=len(accounts),
                key_id=key.key_id,
                threshold=threshold,
            )
        )
    return out


def containment(fingerprint_hashes: set[int], prompt_hashes: set[int]) -> float:
    """Share of the fingerprint's hashes present in a prompt's keyed shingle hashes."""
    if not fingerprint_hashes:
        return 0.0
    return len(fingerprint_hashes & prompt_hashes) / len(fingerprint_hashes)


def parse_hashes(values: Sequence[str]) -> set[int]:
    """Fingerprint hashes (hex strings) as integers; raises ValueError on bad hex."""
    return {int(v, 16) for v in values}
