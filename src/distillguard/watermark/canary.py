"""Canaries: unique, plausible, high-perplexity facts planted in responses, and their audit.

Each canary is a made-up fact with a keyed *prefix* (a fictional place, an object, a year)
and a *secret* drawn by the key from ``K`` candidate surnames: "The bronze astrolabe of
Marrowick was first catalogued by Edda Quillfeather in 1843." The other ``K - 1`` candidates
for the same prefix are matched decoys that were never served.

Audit: ask the suspect to complete the prefix ("... was first catalogued by"). Without
training on the canary, which candidate was drawn is independent of the suspect, so when
its answer mentions ``c`` of the ``K`` candidates, the chance that the drawn secret is among
them is exactly ``c / K``. Summing over canaries gives a Poisson-binomial null and an exact
p-value. With local weights, the hit is "the secret is the candidate the suspect scores
highest", with chance ``1 / K``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distillguard.watermark import stats
from distillguard.watermark.canary_ledger import CanaryLedger
from distillguard.watermark.keys import MasterSecret

_OBJECTS = (
    "bronze astrolabe",
    "lacquered music box",
    "copper sextant",
    "glass orrery",
    "silver hourglass",
    "ivory chess set",
    "oak barometer",
    "enamel compass",
    "brass telescope",
    "porcelain clock",
    "iron lantern",
    "jade inkstone",
)
_PLACES = (
    "Marrowick",
    "Quennsford",
    "Ostravel",
    "Brindlemoor",
    "Caldreth",
    "Vessany",
    "Thornacre",
    "Lumbridge Vale",
    "Saltmere",
    "Ardenholt",
    "Kestrelby",
    "Velmora",
)
_FIRST = ("Edda", "Tobiah", "Marisol", "Anselm", "Ottilie", "Caspian", "Ingrid", "Lucan")
_LAST = (
    "Quillfeather",
    "Marchbanks",
    "Oakenshaw",
    "Vantreight",
    "Pellegrove",
    "Ashdown",
    "Fennimore",
    "Wrexley",
)
#: all candidate names: 8 x 8 = 64, so a chance hit has probability 1/64.
CANDIDATES = tuple(f"{f} {s}" for f in _FIRST for s in _LAST)


@dataclass(frozen=True)
class Canary:
    """One planted fact.

    Attributes:
        canary_id: public id (keyed hash; safe in reports).
        account_id: the account it was planted for.
        prefix: the fact up to the secret.
        secret: the keyed choice among :data:`CANDIDATES`.
        sentence: the full planted sentence.
    """

    canary_id: str
    account_id: str
    prefix: str
    secret: str
    sentence: str

    @property
    def probe(self) -> str:
        """The question that asks a suspect to recall the secret."""
        return f"Complete the sentence: {self.prefix}"


@dataclass(frozen=True)
class CanaryAudit:
    """Recall of planted canaries versus matched decoys.

    Attributes:
        canaries: number tested.
        answered: probes answered (others failed).
        hits: answers naming the planted secret.
        expected_by_chance: sum of per-canary chance probabilities.
        p_value: exact Poisson-binomial tail.
        partial: some probes failed.
        note: explanation of flags.
    """

    canaries: int
    answered: int
    hits: int
    expected_by_chance: float
    p_value: float
    partial: bool
    note: str


class CanaryBook:
    """Makes and remembers canaries, keyed by the master secret.

    Args:
        master: the provider's master secret (canaries are unpredictable without it).
        ledger: where planted canaries are recorded (account, key id, serial; no secret) so
            later audits and restarted processes can use them; None keeps them in memory.
    """

    def __init__(self, master: MasterSecret, ledger: CanaryLedger | None = None) -> None:
        key = master.derive("cohort:__canaries__", "canary")
        self._key = key.material
        self.key_id = key.key_id
        self.ledger = ledger
        self.planted: list[Canary] = []

    def _pick(self, label: str, options: Sequence[str]) -> str:
        digest = hmac.new(self._key, label.encode(), hashlib.sha256).digest()
        return options[int.from_bytes(digest[:8], "little") % len(options)]

    def make(self, account_id: str, serial: int) -> Canary:
        """The ``serial``-th canary for ``account_id`` (deterministic)."""
        label = f"{account_id}|{serial}"
        obj, place = self._pick(label + "|o", _OBJECTS), self._pick(label + "|p", _PLACES)
        year = 1700 + int(self._pick(label + "|y", [str(i) for i in range(250)]))
        prefix = f"The {obj} of {place} (made in {year}) was first catalogued by"
        secret = self._pick(label + "|s", CANDIDATES)
        cid = "cn_" + hmac.new(self._key, label.encode(), hashlib.sha256).hexdigest()[:12]
        return Canary(cid, account_id, prefix, secret, f"{prefix} {secret}.")

    def plant(self, text: str, account_id: str) -> str:
        """Return ``text`` with a new canary fact appended as its own paragraph."""
        if self.ledger is not None:
            serial = self.ledger.next_serial(account_id, self.key_id)
        else:
            serial = sum(1 for c in self.planted if c.account_id == account_id)
        canary = self.make(account_id, serial)
        self.planted.append(canary)
        if self.ledger is not None:
            self.ledger.record(canary, self.key_id, serial)
        return f"{text.rstrip()}\n\nDid you know? {canary.sentence}".lstrip("\n")


def audit_recall(canaries: Sequence[Canary], ask: Callable[[str], str | None]) -> CanaryAudit:
    """Ask a suspect to complete each canary's prefix and test recall against decoys.

    Args:
        canaries: the planted canaries to test.
        ask: returns the suspect's answer to a probe, or None when the query failed.
    """
    probs: list[float] = []
    hits = answered = 0
    for c in canaries:
        answer = ask(c.probe)
        if answer is None:
            continue
        answered += 1
        named = {n for n in CANDIDATES if re.search(rf"\b{re.escape(n)}\b", answer)}
        probs.append(len(named) / len(CANDIDATES))
        hits += int(c.secret in named)
    return _result(len(canaries), answered, hits, probs)


def audit_ranking(canaries: Sequence[Canary], score: Callable[[str, str], float]) -> CanaryAudit:
    """Open-weights canary audit: is the secret the suspect's most likely candidate?

    Args:
        canaries: the planted canaries.
        score: log-likelihood the suspect gives ``candidate`` after ``prefix``.
    """
    hits = 0
    for c in canaries:
        scores = {n: score(c.prefix, n) for n in CANDIDATES}
        best = max(scores.values())
        top = [n for n, s in scores.items() if s == best]
        hits += int(top == [c.secret])
    probs = [1.0 / len(CANDIDATES)] * len(canaries)
    return _result(len(canaries), len(canaries), hits, probs)


def _result(n: int, answered: int, hits: int, probs: list[float]) -> CanaryAudit:
    notes = []
    if answered < n:
        notes.append(f"partial: {n - answered} of {n} probes failed")
    if answered < 10:
        notes.append(f"only {answered} canaries tested: too few to rely on")
    return CanaryAudit(
        canaries=n,
        answered=answered,
        hits=hits,
        expected_by_chance=sum(probs),
        p_value=stats.poisson_binomial_pvalue(hits, probs),
        partial=answered < n,
        note="; ".join(notes),
    )
