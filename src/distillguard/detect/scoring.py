"""Scores and verdicts: account risk, community risk, campaign membership, reasons.

Account risk is a logistic combination of features and fired rules; community risk is a
logistic combination of the community's aggregate behaviour, computed over its *core*
(members with a content or timing edge inside it), so a community of individually harmless
accounts (slow-and-low, load-balanced) is judged as the whole it is, and legitimate accounts
tied in only by a reseller's shared infrastructure neither dilute nor join the campaign.

The weights below are documented in docs/detection.md and were set on simulated scenarios
(every preset, not the test scenario alone); tune thresholds with ``[detect]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distillguard.detect.ruleset import Rule

#: Log-odds weights of the account score. Each term is in [0, 1] before weighting.
ACCOUNT_WEIGHTS: dict[str, float] = {
    "bias": -5.0,
    "distill": 3.5,
    "rare_family": 1.2,
    "regular": 0.6,
    "round_clock": 0.8,
    "cap": 0.5,
    "logprobs": 0.5,
    "multi_n": 0.4,
    "new_model_rush": 1.0,
    "young": 0.6,
    "unverified": 0.4,
    "geo": 0.3,
    "rate": 0.5,
    "rules": 0.5,
}

#: Log-odds weights of the community score.
COMMUNITY_WEIGHTS: dict[str, float] = {
    "bias": -5.5,
    "distill": 5.0,
    "size": 0.9,
    "young": 0.8,
    "unverified": 0.5,
    "behaviour": 1.0,
    "mean_account": 1.5,
    "orgs": 0.5,
    "harvest": 2.0,
    "identity": 1.5,
    "machine": 1.0,
}

_REASON_TEXT: dict[str, str] = {
    "distill": "{p:.0%} of requests carry distillation content",
    "rare_family": "{p:.0%} of requests reuse rare templates shared across organisations",
    "regular": "machine-regular timing between requests",
    "round_clock": "active round the clock ({p:.0%} of hours)",
    "cap": "{p:.0%} of requests ask for the max_tokens cap",
    "logprobs": "{p:.0%} of requests ask for logprobs",
    "multi_n": "{p:.0%} of requests ask for several completions (n > 1)",
    "new_model_rush": "moved to a newly released model within hours",
    "young": "account created days before the traffic",
    "unverified": "identity not verified",
    "geo": "IP country differs from the e-mail country",
    "rate": "runs near its rate limit",
}


def sigmoid(z: float) -> float:
    """The logistic function, safe for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _f(row: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    v = row.get(key)
    if v is None or isinstance(v, str):
        return default
    f = float(v)
    return default if f != f else f


def account_terms(row: Mapping[str, Any]) -> dict[str, float]:
    """Each score term of one account, in [0, 1] (the ``p`` shown in reasons)."""
    n = _f(row, "n_events")
    # Shrink shares measured on few requests towards zero: 10 pseudo-requests of prior.
    shrink = n / (n + 10.0)
    lag = row.get("new_model_lag_h")
    rush = _f(row, "new_model_share") * (1.0 if lag is not None and float(lag) <= 24.0 else 0.0)
    age = row.get("account_age_days")
    cv = row.get("iat_cv")
    return {
        "distill": _f(row, "distill_share") * shrink,
        "rare_family": _f(row, "rare_family_share") * shrink,
        "regular": max(0.0, 1.0 - float(cv)) if cv is not None and n >= 20 else 0.0,
        "round_clock": _f(row, "active_hour_share") if n >= 50 else 0.0,
        "cap": _f(row, "max_tokens_cap_share") * shrink,
        "logprobs": _f(row, "logprobs_share") * shrink,
        "multi_n": _f(row, "multi_n_share") * shrink,
        "new_model_rush": min(rush * 2.0, 1.0),
        "young": 1.0 if age is not None and float(age) < 14 else 0.0,
        "unverified": 1.0 - _f(row, "verified", 1.0),
        "geo": _f(row, "geo_mismatch_share"),
        "rate": min(_f(row, "rate_limit_mean_share") * 2.0, 1.0),
    }


@dataclass(frozen=True, slots=True)
class AccountScore:
    """The risk of one account on its own."""

    risk: float
    terms: dict[str, float]
    rules: tuple[Rule, ...]

    def reasons(self, k: int = 3) -> list[str]:
        """The ``k`` largest contributions, in words."""
        contrib = sorted(
            ((ACCOUNT_WEIGHTS[t] * v, t, v) for t, v in self.terms.items() if v > 0.05),
            reverse=True,
        )
        out = [_REASON_TEXT[t].format(p=v) for _, t, v in contrib[:k]]
        out += [f"rule {r.id}: {r.title}" for r in self.rules[: max(k - len(out), 1)]]
        return out


def score_account(row: Mapping[str, Any], rules: Sequence[Rule]) -> AccountScore:
    """Score one account from its features and the rules that fire on them."""
    terms = account_terms(row)
    fired = tuple(r for r in rules if r.matches(row))
    z = ACCOUNT_WEIGHTS["bias"] + sum(ACCOUNT_WEIGHTS[t] * v for t, v in terms.items())
    z += ACCOUNT_WEIGHTS["rules"] * sum(r.weight for r in fired)
    return AccountScore(risk=sigmoid(z), terms=terms, rules=fired)


@dataclass(frozen=True, slots=True)
class CommunityScore:
    """The aggregate risk of one community, judged over its core."""

    risk: float
    terms: dict[str, float]
    n_core: int
    n_events: int


def score_community(
    core: Sequence[Mapping[str, Any]],
    scores: Sequence[AccountScore],
    behaviour_share: float,
    identity_share: float = 0.0,
) -> CommunityScore:
    """Score a community from its core members' features and own scores.

    Args:
        core: feature rows of the core members.
        scores: their account scores, in the same order.
        behaviour_share: share of the community's edge weight that is behaviour
            (template, timing, content) rather than infrastructure.
        identity_share: share of core members sharing a payment instrument or a creation
            burst with another member while belonging to different organisations.
    """
    n = len(core)
    events = sum(_f(r, "n_events") for r in core)
    if n == 0 or events <= 0:
        return CommunityScore(0.0, {}, 0, 0)
    distill = sum(_f(r, "distill_share") * _f(r, "n_events") for r in core) / events
    orgs = {r.get("org_id") or f"~{r.get('account_id')}" for r in core}
    terms = {
        "distill": distill,
        "size": min(math.log10(n) / 2.0, 1.5),
        "young": sum(1.0 for r in core if _f(r, "account_age_days", 999.0) < 14) / n,
        "unverified": sum(1.0 - _f(r, "verified", 1.0) for r in core) / n,
        "behaviour": behaviour_share,
        "mean_account": sum(s.risk for s in scores) / n,
        "orgs": min(math.log10(len(orgs)) / 2.0, 1.0),
        "harvest": sum(max(s.terms["cap"], s.terms["logprobs"], s.terms["multi_n"]) for s in scores)
        / n,
        "identity": identity_share,
        "machine": sum(max(s.terms["regular"], s.terms["round_clock"]) for s in scores) / n,
    }
    z = COMMUNITY_WEIGHTS["bias"] + sum(COMMUNITY_WEIGHTS[t] * v for t, v in terms.items())
    return CommunityScore(sigmoid(z), terms, n, int(events))
