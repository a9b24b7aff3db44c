"""Text-level keyed lexical watermark for black-box upstreams (in the spirit of CATER).

When the provider cannot touch logits (a third-party upstream), it can still mark a
response by choosing, for every word that belongs to a shipped synonym group, the member a
keyed hash picks given the previous word. Meaning is kept (members are interchangeable);
the choice pattern is the signal.

Detection: each occurrence of a group member, with its previous word, is one trial; the
trial is a *hit* when the observed word is the keyed choice. Without the watermark a random
key picks the observed member with probability ``1/|group|``, independently across unique
(previous word, group) tuples, so the number of hits follows a Poisson-binomial law and the
p-value is its exact tail. Repeated (previous word, group) tuples count once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import ClassVar

from distillguard.errors import WatermarkError
from distillguard.watermark import stats
from distillguard.watermark.base import Detection
from distillguard.watermark.keys import WatermarkKey

_WORD = re.compile(r"[A-Za-z]+")
_START = "^"
MIN_TRIALS = 10


@dataclass(frozen=True)
class SynonymTable:
    """Groups of interchangeable words; every word belongs to at most one group."""

    groups: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for gi, group in enumerate(self.groups):
            if len(group) < 2:
                raise WatermarkError(f"synonym group {gi} has fewer than two words: {group}")
            for w in group:
                if w in seen:
                    raise WatermarkError(f"word {w!r} is in synonym groups {seen[w]} and {gi}")
                seen[w] = gi

    @classmethod
    def default(cls) -> SynonymTable:
        """The table shipped in ``assets/synonyms.json``."""
        text = resources.files("distillguard.watermark").joinpath("assets/synonyms.json")
        data = json.loads(text.read_text(encoding="utf-8"))
        return cls(tuple(tuple(g) for g in data["groups"]))

    def index(self) -> dict[str, int]:
        """word -> group number."""
        return {w: gi for gi, g in enumerate(self.groups) for w in g}


def _choice(key: WatermarkKey, group: int, size: int, prev: str) -> int:
    digest = hashlib.blake2b(
        f"{group}|{prev}".encode(), key=key.material[:32], digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") % size


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


_ARTICLE = re.compile(r"\b(a|an|A|An)(\s+)$")


def _fix_article(prefix: str, word: str) -> str:
    m = _ARTICLE.search(prefix)
    if not m:
        return prefix
    want_an = word[:1].lower() in "aeiou"
    art = m.group(1)
    new = ("an" if want_an else "a") if art.islower() else ("An" if want_an else "A")
    return prefix[: m.start(1)] + new + m.group(2)


class LexicalWatermark:
    """Keyed synonym choices: :meth:`apply` marks a text, :meth:`detect` tests one.

    Args:
        key: the key (scheme ``lexical``); only its id appears in results.
        table: synonym groups (default: the shipped table).
    """

    name: ClassVar[str] = "lexical"

    def __init__(self, key: WatermarkKey, table: SynonymTable | None = None) -> None:
        self.key = key
        self.table = table or SynonymTable.default()
        self._index = self.table.index()

    def apply(self, text: str) -> str:
        """Return ``text`` with every group word replaced by the keyed choice."""
        return self.apply_from(text, _START)[0]

    def apply_from(self, text: str, prev: str) -> tuple[str, str]:
        """Mark ``text`` given the previous word ``prev`` (for streaming); return
        (marked text, last word)."""
        out: list[str] = []
        last = 0
        for m in _WORD.finditer(text):
            word = m.group(0)
            low = word.lower()
            gi = self._index.get(low)
            chunk = text[last : m.start()]
            if gi is not None:
                group = self.table.groups[gi]
                chosen = group[_choice(self.key, gi, len(group), prev)]
                if chosen != low:
                    chunk = _fix_article("".join(out[-1:]) + chunk, chosen)
                    if out:
                        out.pop()
                    word = _match_case(chosen, word)
                low = chosen
            out.append(chunk)
            out.append(word)
            last = m.end()
            prev = low
        out.append(text[last:])
        return "".join(out), prev

    def stream(self) -> LexicalStream:
        """A streaming marker: feed deltas, get marked text (see :class:`LexicalStream`)."""
        return LexicalStream(self)

    def trials(self, text: str) -> list[tuple[str, int, bool]]:
        """(previous word, group, hit) for each unique (previous word, group) occurrence."""
        seen: set[tuple[str, int]] = set()
        rows = []
        prev = _START
        for m in _WORD.finditer(text):
            low = m.group(0).lower()
            gi = self._index.get(low)
            if gi is not None and (prev, gi) not in seen:
                seen.add((prev, gi))
                group = self.table.groups[gi]
                rows.append((prev, gi, group[_choice(self.key, gi, len(group), prev)] == low))
            prev = low
        return rows

    def detect(self, text: str | Sequence[str], *, partial: bool = False) -> Detection:
        """Exact Poisson-binomial test of the keyed choices in one text or a corpus.

        A list of texts is pooled: each (previous word, group) tuple counts once overall.
        """
        texts = [text] if isinstance(text, str) else list(text)
        seen: set[tuple[str, int]] = set()
        probs: list[float] = []
        hits = 0
        words = 0
        for t in texts:
            words += len(_WORD.findall(t))
            for prev, gi, hit in self.trials(t):
                if (prev, gi) in seen:
                    continue
                seen.add((prev, gi))
                probs.append(1.0 / len(self.table.groups[gi]))
                hits += int(hit)
        n = len(probs)
        mean = sum(probs)
        var = sum(q * (1 - q) for q in probs)
        notes = []
        if words == 0:
            notes.append("empty input: nothing to score")
        elif n < MIN_TRIALS:
            notes.append(
                f"only {n} synonym choices found in {words} words (minimum {MIN_TRIALS}): "
                "the p-value is exact but rests on too little text"
            )
        return Detection(
            scheme=self.name,
            key_id=self.key.key_id,
            p_value=stats.poisson_binomial_pvalue(hits, probs),
            z=(hits - mean) / var**0.5 if var > 0 else 0.0,
            tokens_seen=words,
            tokens_scored=n,
            green_count=hits,
            trials=n,
            null_rate=mean / n if n else 0.0,
            insufficient=n < MIN_TRIALS,
            partial=partial,
            note="; ".join(notes),
            documents=len(texts),
        )


_TAIL = re.compile(r"(?:\b(?:a|an|A|An)\s+)?[A-Za-z]*$")


class LexicalStream:
    """Marks text that arrives in pieces (server-sent-event deltas).

    A word may be split across deltas, and an article ("a"/"an") may need fixing once the
    next word is known, so the stream holds back the trailing partial word and a trailing
    article until more text (or :meth:`close`) arrives. The output is identical to
    ``apply`` on the whole text.
    """

    def __init__(self, wm: LexicalWatermark) -> None:
        self._wm = wm
        self._buf = ""
        self._prev = _START

    def feed(self, text: str) -> str:
        """Take the next piece; return the marked text that is safe to send now."""
        self._buf += text
        m = _TAIL.search(self._buf)
        cut = m.start() if m else len(self._buf)
        ready, self._buf = self._buf[:cut], self._buf[cut:]
        out, self._prev = self._wm.apply_from(ready, self._prev)
        return out

    def close(self) -> str:
        """Flush what was held back."""
        out, self._prev = self._wm.apply_from(self._buf, self._prev)
        self._buf = ""
        return out
