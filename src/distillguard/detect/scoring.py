"""Scores and verdicts: account risk, community risk, campaign membership, reasons.

Account risk is a logistic combination of features and fired rules; community risk is a
logistic combination of the community's aggregate behaviour, computed over its *core*
(members with a content or timing edge inside it), so a community of individually harmless
accounts (slow-and-low, load-balanced) is judged as the whole it is, and legitimate accounts
tied in only by a reseller's shared infrastructure neither dilute nor join the campaign.

The account weights are fitted (see :data:`ACCOUNT_WEIGHTS`); the community weights are set
by hand on simulated scenarios. Both are documented in docs/detection.md; tune thresholds
with ``[detect]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillguard.detect.expr import evaluate_columns
from distillguard.detect.ruleset import Rule

#: Log-odds weights of the account score. Each term is in [0, 1] before weighting.
#: Fitted by ``benchmarks/calibrate_detect.py`` (L2 logistic regression on the accounts of
#: demo-week, slow-and-low, paraphrase, eval-harness and licensed at scale 0.05, seed 7;
#: checked on reseller-mix, enterprise-reuse, hydra-release, small-in-large and on every
#: scenario with seed 11: ROC AUC >= 0.98 everywhere, see docs/benchmarks.md). Terms whose
#: fitted weight came out wrong-signed were dropped (weight 0) and the model refitted;
#: ``repeats`` may be negative (re-running the same prompts is what evaluation harnesses
#: do; since ``distill`` counts new prompts only, its fitted weight is ~0). ``high_effort``
#: is left out of the fit (only simulated campaigns ask for high
#: reasoning effort: a generator artefact), and fired rules add a fixed ``rules`` x level
#: weight on top (they restate features, so they are not fitted). ``intel`` (peers' shared
#: indicators, :mod:`distillguard.detect.intel_signal`) is set by hand: the simulator's
#: traffic carries no intel to fit it on; it is 0 for every account when the store holds
#: no ``intel_hits``. ``fresh_cap`` (privacy mode's harvest term) is not in the text-mode fit.
ACCOUNT_WEIGHTS: dict[str, float] = {
    "bias": -5.64,
    "distill": 10.38,
    "cap": 3.81,
    "fresh_cap": 0.0,
    "young": 2.4,
    "regular": 1.78,
    "logprobs": 1.54,
    "ip_churn": 1.04,
    "new_model_rush": 0.65,
    "unverified": 0.16,
    "repeats": -0.05,
    "rare_family": 0.0,
    "round_clock": 0.0,
    "multi_n": 0.0,
    "geo": 0.0,
    "rate": 0.0,
    "high_effort": 0.0,
    "length_stop": 0.0,
    "long_answers": 0.0,
    "rules": 0.25,
    "intel": 3.0,
}

#: Log-odds weights of the account score in privacy mode (the store holds no prompt text, so
#: ``distill``, ``rare_family`` and the rules over text signals are 0 for every account).
#: Fitted the same way on the same scenarios scanned without prompt text
#: (``benchmarks/calibrate_detect.py --privacy``, docs/benchmarks.md): with the text terms
#: gone, the shipped text-mode weights put a datacenter hydra at risk ~0.1, under every
#: membership threshold, although it stands out from legitimate accounts.
PRIVACY_WEIGHTS: dict[str, float] = {
    "bias": -3.3,
    "distill": 0.0,
    "cap": 0.0,
    "fresh_cap": 4.93,
    "young": 2.16,
    "regular": 2.07,
    "ip_churn": 1.94,
    "logprobs": 1.9,
    "long_answers": 1.41,
    "round_clock": 0.18,
    "new_model_rush": 0.1,
    "repeats": 0.1,
    "length_stop": 0.05,
    "unverified": 0.0,
    "rare_family": 0.0,
    "multi_n": 0.0,
    "geo": 0.0,
    "rate": 0.0,
    "high_effort": 0.0,
    "rules": 0.25,
    "intel": 3.0,
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

#: Log-odds weights of the community score in privacy mode. With no prompt text the
#: community's content term is unknown, not 0: its weight moves to the members' mean risk,
#: which the privacy-mode account model (:data:`PRIVACY_WEIGHTS`) was fitted to give
#: campaign accounts without text.
PRIVACY_COMMUNITY_WEIGHTS: dict[str, float] = {
    **COMMUNITY_WEIGHTS,
    "distill": 0.0,
    "mean_account": COMMUNITY_WEIGHTS["mean_account"] + COMMUNITY_WEIGHTS["distill"],
}

_REASON_TEXT: dict[str, str] = {
    "distill": "{p:.0%} of requests are new prompts carrying distillation content",
    "rare_family": "{p:.0%} of requests reuse rare templates shared across organisations",
    "regular": "machine-regular timing between requests",
    "round_clock": "active round the clock ({p:.0%} of hours)",
    "cap": "{p:.0%} of requests ask for the max_tokens cap",
    "fresh_cap": "{p:.0%} of requests are new prompts asking for the max_tokens cap",
    "logprobs": "{p:.0%} of requests ask for logprobs",
    "multi_n": "{p:.0%} of requests ask for several completions (n > 1)",
    "new_model_rush": "moved to a newly released model within hours",
    "young": "account created days before the traffic",
    "unverified": "identity not verified",
    "geo": "IP country differs from the e-mail country",
    "rate": "runs near its rate limit",
    "high_effort": "{p:.0%} of requests ask for high reasoning effort",
    "length_stop": "{p:.0%} of answers run to the length limit",
    "ip_churn": "rotates IP addresses ({p:.0%} of requests from a new address)",
    "repeats": "{p:.0%} of requests repeat earlier prompts",
    "long_answers": "asks for answers much longer than its prompts",
}

#: Terms whose reason the verdict states in its own, more detailed words (peer intel names
#: the producer and the indicator kinds).
_DETAILED_TERMS = frozenset({"intel"})


def sigmoid(z: float) -> float:
    """The logistic function, safe for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


#: Log-odds added to an account's own risk before it weights its graph edges: an account
#: only needs to look mildly unusual on its own for its links to count.
SUSPICION_SHIFT = 3.0


def suspicion(risk: float) -> float:
    """How much an account's links count in the graph, from its own risk (in [0, 1]).

    ``sigmoid(logit(risk) + SUSPICION_SHIFT)``: monotone in the risk, near 0 for accounts
    that look clean, near 1 for accounts whose own evidence is already strong.
    """
    r = min(max(risk, 1e-9), 1.0 - 1e-9)
    return sigmoid(math.log(r / (1.0 - r)) + SUSPICION_SHIFT)


def _f(row: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    v = row.get(key)
    if v is None or isinstance(v, str):
        return default
    f = float(v)
    return default if f != f else f


#: The attack signals (system-prompt extraction, jailbreak): content that is not discounted
#: for being repeated in the ``distill`` term (3,000 extraction attempts cycled from a list of
#: 70, from three accounts on one datacenter pool, scored 0.19 each; a drawn scenario of
#: benchmarks/bench_detect_random.py on the held-out corpus).
_EXTRACTION = "sig_prompt_extraction_share"
_JAILBREAK = "sig_jailbreak_share"


def _attack_share(extraction: Any, jailbreak: Any) -> Any:
    """The share of requests that are attacks: at least the larger of the two signals'
    shares (a request can be both), for floats or numpy arrays."""
    return np.maximum(extraction, jailbreak)


def account_terms(row: Mapping[str, Any]) -> dict[str, float]:
    """Each score term of one account, in [0, 1] (the ``p`` shown in reasons)."""
    n = _f(row, "n_events")
    # Shrink shares measured on few requests towards zero: 10 pseudo-requests of prior.
    shrink = n / (n + 10.0)
    lag = row.get("new_model_lag_h")
    rush = _f(row, "new_model_share") * (1.0 if lag is not None and float(lag) <= 24.0 else 0.0)
    age = row.get("account_age_days")
    cv = row.get("iat_cv")
    distill = _f(row, "distill_share")
    attack = min(distill, _attack_share(_f(row, _EXTRACTION), _f(row, _JAILBREAK)))
    return {
        # New prompts only: extraction wants fresh (prompt, answer) pairs; re-running a fixed
        # benchmark (an evaluation harness) repeats the same prompts. An attack is an attack
        # each time it is sent, though: a prober cycles through a short list of them.
        "distill": ((distill - attack) * (1.0 - _f(row, "dup_prompt_share")) + attack) * shrink,
        "rare_family": _f(row, "rare_family_share") * shrink,
        "regular": max(0.0, 1.0 - float(cv)) if cv is not None and n >= 20 else 0.0,
        "round_clock": _f(row, "active_hour_share") if n >= 50 else 0.0,
        "cap": _f(row, "max_tokens_cap_share") * shrink,
        # The cap on new prompts only (privacy mode's harvest term): re-running a fixed
        # benchmark at the cap is what an evaluation harness does.
        "fresh_cap": _f(row, "max_tokens_cap_share") * (1.0 - _f(row, "dup_prompt_share")) * shrink,
        "logprobs": _f(row, "logprobs_share") * shrink,
        "multi_n": _f(row, "multi_n_share") * shrink,
        "new_model_rush": min(rush * 2.0, 1.0),
        "young": 1.0 if age is not None and float(age) < 14 else 0.0,
        "unverified": 1.0 - _f(row, "verified", 1.0),
        "geo": _f(row, "geo_mismatch_share"),
        "rate": min(_f(row, "rate_limit_mean_share") * 2.0, 1.0),
        "high_effort": _f(row, "high_effort_share") * shrink,
        "length_stop": _f(row, "length_stop_share") * shrink,
        "ip_churn": (
            min(max(_f(row, "n_ips") - 1.0, 0.0) / (n - 1.0), 1.0) * shrink if n >= 5 else 0.0
        ),
        "repeats": _f(row, "dup_prompt_share") * shrink,
        "long_answers": (
            min(max(math.log10(max(_f(row, "out_in_ratio"), 1e-3)), 0.0) / 2.0, 1.0) * shrink
        ),
        "intel": _f(row, "intel_score"),
    }


@dataclass(frozen=True, slots=True)
class AccountScore:
    """The risk of one account on its own."""

    risk: float
    terms: dict[str, float]
    rules: tuple[Rule, ...]
    #: The model that gave ``risk`` (:data:`ACCOUNT_WEIGHTS` or :data:`PRIVACY_WEIGHTS`).
    weights: Mapping[str, float] = field(default_factory=lambda: ACCOUNT_WEIGHTS)

    def reasons(self, k: int = 3) -> list[str]:
        """The ``k`` largest contributions, in words."""
        w = self.weights
        contrib = sorted(
            (
                (w.get(t, 0.0) * v, t, v)
                for t, v in self.terms.items()
                if v > 0.05 and w.get(t, 0.0) > 0 and t not in _DETAILED_TERMS
            ),
            reverse=True,
        )
        out = [_REASON_TEXT[t].format(p=v) for _, t, v in contrib[:k]]
        out += [f"rule {r.id}: {r.title}" for r in self.rules[: max(k - len(out), 1)]]
        return out


def is_privacy_mode(score: AccountScore) -> bool:
    """Whether ``score`` came from the privacy-mode model (the store holds no prompt text)."""
    return score.weights is PRIVACY_WEIGHTS


def score_account(
    row: Mapping[str, Any], rules: Sequence[Rule], weights: Mapping[str, float] = ACCOUNT_WEIGHTS
) -> AccountScore:
    """Score one account from its features and the rules that fire on them."""
    terms = account_terms(row)
    fired = tuple(r for r in rules if r.matches(row))
    z = weights["bias"] + sum(weights.get(t, 0.0) * v for t, v in terms.items())
    z += weights["rules"] * sum(r.weight for r in fired)
    return AccountScore(risk=sigmoid(z), terms=terms, rules=fired, weights=weights)


def _col(cols: Mapping[str, Any], key: str, n: int, default: float = 0.0) -> np.ndarray:
    """A feature column as float64 with nulls replaced by ``default``."""
    raw = cols.get(key)
    if raw is None:
        return np.full(n, default)
    arr = np.asarray(raw)
    if arr.dtype == object:
        arr = np.array([default if v is None or isinstance(v, str) else float(v) for v in arr])
    arr = arr.astype(np.float64)
    return np.where(np.isnan(arr), default, arr)


def _present(cols: Mapping[str, Any], key: str, n: int) -> np.ndarray:
    raw = cols.get(key)
    if raw is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(raw)
    if arr.dtype == object:
        return np.array([v is not None for v in arr], dtype=bool)
    return ~np.isnan(arr.astype(np.float64))


def account_term_columns(cols: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    """:func:`account_terms` for ``n`` accounts at once (columns as numpy arrays)."""
    ne = _col(cols, "n_events", n)
    shrink = ne / (ne + 10.0)
    lag_ok = _present(cols, "new_model_lag_h", n) & (_col(cols, "new_model_lag_h", n, 1e9) <= 24.0)
    rush = _col(cols, "new_model_share", n) * lag_ok
    cv = _col(cols, "iat_cv", n, 1.0)
    cv_ok = _present(cols, "iat_cv", n) & (ne >= 20)
    age_ok = _present(cols, "account_age_days", n) & (_col(cols, "account_age_days", n, 999) < 14)
    with np.errstate(divide="ignore", invalid="ignore"):
        churn = np.where(
            ne >= 5,
            np.minimum(
                np.maximum(_col(cols, "n_ips", n) - 1.0, 0.0) / np.maximum(ne - 1.0, 1.0), 1.0
            )
            * shrink,
            0.0,
        )
        ratio = np.maximum(_col(cols, "out_in_ratio", n), 1e-3)
        long_ans = np.minimum(np.maximum(np.log10(ratio), 0.0) / 2.0, 1.0) * shrink
    distill = _col(cols, "distill_share", n)
    attack = np.minimum(
        distill, _attack_share(_col(cols, _EXTRACTION, n), _col(cols, _JAILBREAK, n))
    )
    return {
        "distill": ((distill - attack) * (1.0 - _col(cols, "dup_prompt_share", n)) + attack)
        * shrink,
        "rare_family": _col(cols, "rare_family_share", n) * shrink,
        "regular": np.where(cv_ok, np.maximum(0.0, 1.0 - cv), 0.0),
        "round_clock": np.where(ne >= 50, _col(cols, "active_hour_share", n), 0.0),
        "cap": _col(cols, "max_tokens_cap_share", n) * shrink,
        "fresh_cap": _col(cols, "max_tokens_cap_share", n)
        * (1.0 - _col(cols, "dup_prompt_share", n))
        * shrink,
        "logprobs": _col(cols, "logprobs_share", n) * shrink,
        "multi_n": _col(cols, "multi_n_share", n) * shrink,
        "new_model_rush": np.minimum(rush * 2.0, 1.0),
        "young": age_ok.astype(np.float64),
        "unverified": 1.0 - _col(cols, "verified", n, 1.0),
        "geo": _col(cols, "geo_mismatch_share", n),
        "rate": np.minimum(_col(cols, "rate_limit_mean_share", n) * 2.0, 1.0),
        "high_effort": _col(cols, "high_effort_share", n) * shrink,
        "length_stop": _col(cols, "length_stop_share", n) * shrink,
        "ip_churn": churn,
        "repeats": _col(cols, "dup_prompt_share", n) * shrink,
        "long_answers": long_ans,
        "intel": _col(cols, "intel_score", n),
    }


def score_accounts(
    table: Any, rules: Sequence[Rule], weights: Mapping[str, float] = ACCOUNT_WEIGHTS
) -> dict[str, AccountScore]:
    """Score every account of an ``account_features`` Arrow table, vectorised.

    Same result as :func:`score_account` row by row (terms, fired rules, risk), in numpy:
    the scan scores hundreds of thousands of accounts this way. ``weights`` is the model
    (:data:`PRIVACY_WEIGHTS` when the store holds no prompt text).
    """
    n = table.num_rows
    cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    terms = account_term_columns(cols, n)
    z = np.full(n, weights["bias"])
    for t, v in terms.items():
        z += weights.get(t, 0.0) * v
    fired = [evaluate_columns(r.node, cols, n) for r in rules]
    for r, hit in zip(rules, fired, strict=True):
        z += weights["rules"] * r.weight * hit
    risk = np.where(
        z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z)))
    )
    names = list(terms)
    mat = np.column_stack([terms[t] for t in names]).tolist() if n else []
    hits = np.column_stack(fired).tolist() if fired and n else [[] for _ in range(n)]
    ids = [str(a) for a in cols["account_id"]]
    out: dict[str, AccountScore] = {}
    for i, aid in enumerate(ids):
        out[aid] = AccountScore(
            risk=float(risk[i]),
            terms=dict(zip(names, mat[i], strict=True)),
            rules=tuple(r for r, h in zip(rules, hits[i], strict=True) if h),
            weights=weights,
        )
    return out


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
    distill: float | None = None,
) -> CommunityScore:
    """Score a community from its core members' features and own scores.

    Args:
        core: feature rows of the core members.
        scores: their account scores, in the same order.
        behaviour_share: share of the community's edge weight that is behaviour
            (template, timing, content) rather than infrastructure.
        identity_share: share of core members sharing a payment instrument or a creation
            burst with another member while belonging to different organisations.
        distill: the content term to use instead of the core's request-weighted
            ``distill_share`` (the crowd-tail test scores a core's content in excess of the
            crowd around it: ``campaigns._crowd_tail``).

    Members scored by the privacy-mode model (:data:`PRIVACY_WEIGHTS`) are judged with
    :data:`PRIVACY_COMMUNITY_WEIGHTS`.
    """
    n = len(core)
    events = sum(_f(r, "n_events") for r in core)
    if n == 0 or events <= 0:
        return CommunityScore(0.0, {}, 0, 0)
    if distill is None:
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
    w = PRIVACY_COMMUNITY_WEIGHTS if is_privacy_mode(scores[0]) else COMMUNITY_WEIGHTS
    z = w["bias"] + sum(w[t] * v for t, v in terms.items())
    return CommunityScore(sigmoid(z), terms, n, int(events))
