"""Language of a prompt from its script and its stop words.

Campaigns often translate one wrapper into several languages, and a sudden share of one
language in an account's traffic is itself a feature. This annotator needs no model: a
non-Latin script that dominates decides (kana means Japanese even among Han characters);
otherwise the language whose stop words occur most often wins, and ``"und"`` (undetermined)
is returned when there is no evidence (privacy mode, code, numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from distillguard.detect.signals import kernels
from distillguard.detect.signals.text import SCRIPTS, TokenBatch, tokenize

UNDETERMINED = "und"

_SCRIPT_LANG: dict[str, str] = {
    "greek": "el",
    "cyrillic": "ru",
    "hebrew": "he",
    "arabic": "ar",
    "devanagari": "hi",
    "thai": "th",
    "kana": "ja",
    "han": "zh",
    "hangul": "ko",
}

#: Frequent function words, chosen to be distinctive between the languages listed.
STOP_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "the",
        "and",
        "is",
        "of",
        "to",
        "what",
        "you",
        "this",
        "that",
        "with",
        "are",
        "how",
        "your",
        "for",
        "it",
        "be",
        "which",
        "have",
        "from",
        "can",
        "write",
        "into",
        "why",
        "my",
        "i",
        "do",
        "in",
        "on",
        "a",
        "an",
        "about",
        "give",
        "me",
    ),
    "es": (
        "el",
        "los",
        "las",
        "del",
        "que",
        "es",
        "por",
        "una",
        "para",
        "con",
        "como",
        "pero",
        "su",
        "está",
        "qué",
        "cómo",
        "y",
        "muy",
        "escribe",
    ),
    "fr": (
        "le",
        "les",
        "des",
        "est",
        "et",
        "une",
        "pour",
        "dans",
        "que",
        "qui",
        "vous",
        "pas",
        "sur",
        "avec",
        "du",
        "au",
        "ce",
        "quel",
        "écris",
    ),
    "de": (
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "mit",
        "sie",
        "ich",
        "auf",
        "für",
        "den",
        "dem",
        "wie",
        "was",
        "schreibe",
        "zu",
    ),
    "pt": (
        "os",
        "uma",
        "não",
        "para",
        "com",
        "que",
        "é",
        "do",
        "da",
        "dos",
        "das",
        "como",
        "você",
        "em",
        "mais",
        "escreva",
        "seu",
    ),
    "it": (
        "il",
        "gli",
        "della",
        "che",
        "è",
        "di",
        "una",
        "per",
        "non",
        "sono",
        "come",
        "anche",
        "questo",
        "nel",
        "delle",
        "scrivi",
    ),
    "nl": (
        "de",
        "het",
        "een",
        "en",
        "van",
        "niet",
        "dat",
        "zijn",
        "ik",
        "je",
        "wat",
        "hoe",
        "voor",
        "met",
        "schrijf",
    ),
    "tr": ("bir", "ve", "bu", "için", "ile", "ne", "nasıl", "değil", "mi", "çok", "daha"),
    "pl": ("nie", "się", "jest", "na", "że", "jak", "czy", "to", "w", "ze", "dla", "napisz"),
    "id": (
        "yang",
        "dan",
        "di",
        "ini",
        "itu",
        "dengan",
        "untuk",
        "tidak",
        "apa",
        "ada",
        "dari",
        "bagaimana",
    ),
}


@runtime_checkable
class LanguageAnnotator(Protocol):
    """Returns one language code (ISO 639-1, or ``"und"``) per prompt."""

    name: ClassVar[str]

    def detect(self, prompts: Sequence[str | None]) -> list[str]:
        """Language of each raw prompt."""
        ...

    def detect_batch(self, batch: TokenBatch) -> list[str]:
        """Language of each prompt of a tokenised batch."""
        ...


class ScriptStopwordLanguage:
    """Reference :class:`LanguageAnnotator`: scripts first, then stop-word counts."""

    name: ClassVar[str] = "script_stopwords"

    def __init__(self) -> None:
        self._langs = tuple(STOP_WORDS)
        hashes: list[int] = []
        owners: list[int] = []
        for li, lang in enumerate(self._langs):
            toks = tokenize([" ".join(STOP_WORDS[lang])]).tok
            hashes.extend(int(h) for h in toks)
            owners.extend([li] * toks.size)
        order = np.argsort(np.array(hashes, dtype=np.uint64), kind="stable")
        self._hashes = np.array(hashes, dtype=np.uint64)[order]
        self._owners = np.array(owners, dtype=np.int64)[order]
        self._table = kernels.gram_table(
            np.array(hashes, dtype=np.uint64), np.array(owners, dtype=np.int64)
        )
        self._codes = np.array(
            [_SCRIPT_LANG.get(s, "") for s in SCRIPTS] + list(self._langs) + [UNDETERMINED],
            dtype=object,
        )

    def detect(self, prompts: Sequence[str | None]) -> list[str]:
        """See :class:`LanguageAnnotator`."""
        return self.detect_batch(tokenize(prompts))

    def detect_batch(self, batch: TokenBatch) -> list[str]:
        """See :class:`LanguageAnnotator`."""
        n = batch.n
        nl = len(self._langs)
        counts = np.zeros((n, nl), dtype=np.float64)
        if batch.tok.size and kernels.HAVE_NUMBA:
            counts += kernels.count_words(batch.tok, batch.parent, n, *self._table, nl)
        elif batch.tok.size:
            lo = np.searchsorted(self._hashes, batch.tok, side="left")
            hi = np.searchsorted(self._hashes, batch.tok, side="right")
            hit = np.flatnonzero(hi > lo)
            # a word shared by several languages counts for each of them
            for extra in range(int((hi - lo).max(initial=0))):
                sel = hit[(hi[hit] - lo[hit]) > extra]
                key = batch.parent[sel] * nl + self._owners[lo[sel] + extra]
                counts += np.bincount(key, minlength=n * nl).reshape(n, nl)
        sc = batch.scripts.astype(np.float64)
        nonlatin = sc.copy()
        nonlatin[:, SCRIPTS.index("latin_ext")] = 0.0
        han, kana = SCRIPTS.index("han"), SCRIPTS.index("kana")
        # Japanese mixes Han and kana: any real share of kana makes it Japanese
        nonlatin[:, kana] += np.where(
            nonlatin[:, kana] >= 0.1 * nonlatin[:, han], nonlatin[:, han], 0
        )
        best_script = nonlatin.argmax(axis=1)
        script_n = nonlatin.max(axis=1)
        n_tokens = np.bincount(batch.parent, minlength=n).astype(np.float64)
        best_lang = counts.argmax(axis=1)
        lang_n = counts.max(axis=1)
        choice = np.full(n, len(SCRIPTS) + nl, dtype=np.int64)
        latin = lang_n > 0
        choice[latin] = len(SCRIPTS) + best_lang[latin]
        use_script = (script_n >= 2) & (script_n >= 0.3 * (n_tokens - script_n))
        choice[use_script] = best_script[use_script]
        choice[~batch.has_text] = len(SCRIPTS) + nl
        return [str(c) for c in self._codes[choice]]
