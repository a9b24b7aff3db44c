"""Per-account incremental state computed inline: rolling counters and a template sketch.

Cheap enough for the request path (a few microseconds): a 60-second ring of per-second
request counts, and a Space-Saving sketch of the account's most frequent prompt templates
(a prompt reduced to lower case, digits as ``0``, whitespace collapsed, first 80 characters).
A high share of one template at volume is the shape of a distillation harvest. The values go
into the event's ``decision.state`` so that detection can use them without recomputing.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
SKETCH_SIZE = 8


def template_of(text: str) -> str:
    """A 64-bit digest of the prompt's template."""
    t = _SPACE.sub(" ", _DIGITS.sub("0", text[:400].lower())).strip()[:80]
    return hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=8).hexdigest()


@dataclass(slots=True)
class AccountState:
    """Rolling state of one account."""

    ring: list[int] = field(default_factory=lambda: [0] * 60)
    total: int = 0
    sketch: dict[str, int] = field(default_factory=dict)
    sketched: int = 0

    recent: int = 0
    last_sec: int = -(2**62)

    def count(self, sec: int) -> int:
        """Requests in the last 60 seconds, this one included.

        ``recent`` is the sum of the slots of the 60 seconds up to ``last_sec``; moving to a
        later second drops the slots that fell out of the window (at most 60 of them), so a
        request costs O(1) amortised. A clock that steps back counts into the current slot.
        """
        if sec > self.last_sec:
            for s in range(max(self.last_sec + 1, sec - 59), sec + 1):
                j = s % 60
                self.recent -= self.ring[j]
                self.ring[j] = 0
            self.last_sec = sec
        i = self.last_sec % 60
        self.ring[i] += 1
        self.recent += 1
        self.total += 1
        return self.recent

    def add_template(self, digest: str) -> float:
        """Add a template (Space-Saving); return the top template's share of sketched prompts."""
        self.sketched += 1
        if digest in self.sketch:
            self.sketch[digest] += 1
        elif len(self.sketch) < SKETCH_SIZE:
            self.sketch[digest] = 1
        else:
            victim = min(self.sketch, key=self.sketch.__getitem__)
            self.sketch[digest] = self.sketch.pop(victim) + 1
        return max(self.sketch.values()) / self.sketched


class StateTable:
    """Account states, least recently used dropped beyond ``max_accounts``."""

    def __init__(self, max_accounts: int = 100_000) -> None:
        self.max_accounts = max_accounts
        self._states: OrderedDict[str, AccountState] = OrderedDict()

    def observe(self, account_id: str, prompt: str | None, now: float) -> dict[str, float]:
        """Update the account's state with one request and return its inline signals."""
        st = self._states.get(account_id)
        if st is None:
            st = AccountState()
            self._states[account_id] = st
            if len(self._states) > self.max_accounts:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(account_id)
        out: dict[str, float] = {
            "requests_1m": float(st.count(int(now))),
            "requests": float(st.total),
        }
        if prompt:
            out["top_template_share"] = round(st.add_template(template_of(prompt)), 4)
        return out
