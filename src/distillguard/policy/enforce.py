"""Combine the decisions that apply to one request into one :class:`Enforcement`.

The account's decision and its org's decision both apply; the strictest wins (a refusal over
everything, the lowest limit, the lowest max_tokens) and transforms add up. An ``allow`` on
the account is an allow-list entry: the org's decision is then ignored for that account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillguard.policy.model import Decision

#: refusal action -> (HTTP status, OpenAI error code, message)
REFUSALS: dict[str, tuple[int, str, str]] = {
    "block": (403, "account_blocked", "This account is blocked. Contact support."),
    "require_verification": (
        403,
        "verification_required",
        "This account must complete identity verification before using the API.",
    ),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """The request is refused with this OpenAI-style error."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """Tighter per-minute limits for the subject (0 = no override)."""

    rpm: int = 0
    tpm: int = 0
    concurrency: int = 0


@dataclass(frozen=True, slots=True)
class Enforcement:
    """What the gateway does to one request.

    Attributes:
        refusal: set when the request must be refused.
        limits: tighter limits, applied on top of the configured ones.
        strip: remove logprobs from the request and raw reasoning from the response.
        max_tokens: clamp of max_tokens, or None.
        transforms: (transform name, params) to apply to the response text, in order.
        record: what goes in the event's ``decision`` field.
    """

    refusal: Refusal | None = None
    limits: LimitOverride | None = None
    strip: bool = False
    max_tokens: int | None = None
    transforms: tuple[tuple[str, dict[str, Any]], ...] = ()
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def passthrough(self) -> bool:
        """True when nothing changes the request or the response."""
        return not (self.refusal or self.strip or self.max_tokens or self.transforms)


ALLOW = Enforcement(record={"action": "allow", "reason": "no decision"})


def _min_nonzero(a: int, b: int) -> int:
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def resolve(decisions: list[Decision]) -> Enforcement:
    """Combine active decisions (account first, then org) into one enforcement."""
    if not decisions:
        return ALLOW
    if "allow" in decisions[0].actions:
        d = decisions[0]
        return Enforcement(
            record={"action": "allow", "reason": d.reason, "decision_ids": [d.decision_id]}
        )
    refusal: Refusal | None = None
    rpm = tpm = conc = 0
    strip = False
    max_tokens: int | None = None
    transforms: list[tuple[str, dict[str, Any]]] = []
    actions: list[str] = []
    for d in decisions:
        p = d.params
        for act in d.actions:
            if act not in actions:
                actions.append(act)
            if act in REFUSALS:
                status, code, msg = REFUSALS[act]
                if refusal is None or act == "block":
                    refusal = Refusal(status, code, msg)
            elif act == "throttle":
                rpm = _min_nonzero(rpm, int(p.get("rpm", 0)))
                tpm = _min_nonzero(tpm, int(p.get("tpm", 0)))
                conc = _min_nonzero(conc, int(p.get("concurrency", 0)))
            elif act == "strip":
                strip = True
            elif act == "cap_max_tokens":
                cap = int(p["max_tokens"])
                max_tokens = cap if max_tokens is None else min(max_tokens, cap)
            elif act == "watermark":
                params = {"strength": float(p.get("strength", 1.0))}
                transforms.append((str(p.get("transform", "watermark")), params))
            elif act == "canary":
                transforms.append(
                    (str(p.get("canary_transform", p.get("transform", "canary"))), {})
                )
    limits = LimitOverride(rpm, tpm, conc) if (rpm or tpm or conc) else None
    record: dict[str, Any] = {
        "action": "+".join(actions),
        "reason": "; ".join(d.reason for d in decisions if d.reason),
        "decision_ids": [d.decision_id for d in decisions],
        "subjects": [d.subject for d in decisions],
    }
    return Enforcement(
        refusal=refusal,
        limits=limits,
        strip=strip,
        max_tokens=max_tokens,
        transforms=tuple(transforms),
        record=record,
    )


class ResolveCache:
    """:func:`resolve` memoised by the decisions' ids.

    A decision never changes under its id (a new decision gets a new id; revoking removes
    it from the table), so the combined enforcement of the same ids is always the same.
    Callers must not mutate the returned enforcement (copy its ``record``).

    Args:
        max_entries: the memo is emptied when it reaches this size.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._memo: dict[tuple[str, ...], Enforcement] = {}

    def __call__(self, decisions: list[Decision]) -> Enforcement:
        """The enforcement of ``decisions`` (account first, then org)."""
        if not decisions:
            return ALLOW
        key = tuple([d.decision_id for d in decisions])
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= self.max_entries:
                self._memo.clear()
            hit = self._memo[key] = resolve(decisions)
        return hit
