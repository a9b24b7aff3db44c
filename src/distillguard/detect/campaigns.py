"""From scored accounts and communities to verdicts and campaign records.

A community becomes a campaign when its aggregate risk reaches ``campaign_threshold``; its
members are the core accounts (behaviour edges inside it) plus any member whose own risk
reaches ``member_threshold``. Allow-listed accounts are never members: they get verdict
``legit`` with the allow-list's reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distillguard.detect.allowlist import AllowList
from distillguard.detect.config import DetectConfig
from distillguard.detect.linking import EDGE_REASONS
from distillguard.detect.ruleset import Rule
from distillguard.detect.scoring import AccountScore, score_account, score_community

#: Signal-name fragment -> (tactic name, ATLAS ids). Used when the signal registry does not
#: carry ATLAS ids itself.
SIGNAL_TACTICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reason": ("Reasoning-trace elicitation", ("AML.T0024.002", "AML.T0005.001")),
    "rubric": ("Rubric grading (model as judge)", ("AML.T0024.002", "AML.T0005.001")),
    "grad": ("Rubric grading (model as judge)", ("AML.T0024.002", "AML.T0005.001")),
    "synth": ("Synthetic-data generation", ("AML.T0024.002", "AML.T0005.001")),
    "sweep": ("Capability sweep", ("AML.T0024.002",)),
    "capab": ("Capability sweep", ("AML.T0024.002",)),
    "cod": ("Capability sweep (coding, agents)", ("AML.T0024.002",)),
    "tool": ("Capability sweep (tool use)", ("AML.T0024.002",)),
    "jail": ("LLM jailbreak", ("AML.T0054",)),
    "extract": ("System-prompt extraction", ("AML.T0056",)),
    "system": ("System-prompt extraction", ("AML.T0056",)),
}


@dataclass(frozen=True, slots=True)
class AccountVerdict:
    """One row of accounts.csv."""

    account_id: str
    risk: float
    verdict: str
    campaign_id: str
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Campaign:
    """One entry of campaigns.json."""

    campaign_id: str
    accounts: tuple[str, ...]
    risk: float
    tactics: tuple[dict[str, Any], ...]
    evidence: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    volume: int
    tokens: int
    community: int = field(default=-1)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to campaigns.json."""
        return {
            "campaign_id": self.campaign_id,
            "accounts": list(self.accounts),
            "risk": round(self.risk, 4),
            "tactics": list(self.tactics),
            "evidence": self.evidence,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "volume": self.volume,
            "tokens": self.tokens,
        }


def _signal_tactic(
    col: str, atlas_of: Mapping[str, tuple[str, ...]]
) -> tuple[str, tuple[str, ...]]:
    name = col.removeprefix("sig_")
    if name in atlas_of:
        return name.replace("_", " "), atlas_of[name]
    for frag, tactic in SIGNAL_TACTICS.items():
        if frag in name:
            return tactic
    return name.replace("_", " "), ("AML.T0024.002",)


def _tactics(
    members: Sequence[Mapping[str, Any]],
    sig_cols: Sequence[str],
    fired: Counter[str],
    rules: Mapping[str, Rule],
    edge_kinds: Mapping[str, int],
    atlas_of: Mapping[str, tuple[str, ...]],
) -> list[dict[str, Any]]:
    events = sum(int(r.get("n_events") or 0) for r in members) or 1
    out: list[dict[str, Any]] = []
    for col in sig_cols:
        share = (
            sum(float(r.get(f"{col}_share") or 0) * int(r.get("n_events") or 0) for r in members)
            / events
        )
        if share >= 0.05:
            name, atlas = _signal_tactic(col, atlas_of)
            out.append(
                {
                    "name": name,
                    "atlas": list(atlas),
                    "share": round(share, 4),
                    "source": f"signal {col}",
                }
            )
    young = sum(1 for r in members if (r.get("account_age_days") or 999) < 14)
    if young >= 2 or edge_kinds.get("creation_burst", 0) > 0:
        out.append(
            {
                "name": "Establish accounts (fresh, created in bursts)",
                "atlas": ["AML.T0021"],
                "share": round(young / max(len(members), 1), 4),
                "source": "account age and creation bursts",
            }
        )
    if edge_kinds.get("payment", 0) + edge_kinds.get("ip", 0) > 0 and len(members) >= 5:
        out.append(
            {
                "name": "AI service proxies (shared infrastructure, many accounts)",
                "atlas": ["AML.T0008.005"],
                "share": None,
                "source": "infrastructure edges",
            }
        )
    for rid, n in fired.most_common():
        rule = rules[rid]
        out.append(
            {
                "name": rule.title,
                "atlas": list(rule.atlas),
                "share": round(n / max(len(members), 1), 4),
                "source": f"rule {rid}",
            }
        )
    out.append(
        {
            "name": "AI model inference API access",
            "atlas": ["AML.T0040"],
            "share": None,
            "source": "all traffic went through the API",
        }
    )
    return out


def decide(
    rows: Sequence[Mapping[str, Any]],
    communities: Mapping[str, tuple[int, bool]],
    edge_kinds_by_account: Mapping[str, Mapping[str, int]],
    behaviour_share: Mapping[int, float],
    rules: Sequence[Rule],
    allow: AllowList,
    now: datetime,
    cfg: DetectConfig,
    sig_cols: Sequence[str] = (),
    atlas_of: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[AccountVerdict], list[Campaign]]:
    """Give every account a verdict and group campaign members into campaigns.

    Args:
        rows: account_features rows (dicts), one per account.
        communities: account_id -> (community, core).
        edge_kinds_by_account: account_id -> {edge kind: edges inside its community}.
        behaviour_share: community -> share of its internal edge weight from behaviour edges.
        rules: loaded rules.
        allow: the allow-list.
        now: reference time for allow-list expiry.
        cfg: thresholds.
        sig_cols: the ``sig_*`` signal columns available.
        atlas_of: signal name -> ATLAS ids, from the signal registry when it has them.
    """
    scores: dict[str, AccountScore] = {str(r["account_id"]): score_account(r, rules) for r in rows}
    by_id = {str(r["account_id"]): r for r in rows}
    allowed = {
        aid: e
        for aid, r in by_id.items()
        if (e := allow.match(aid, r.get("org_id"), now)) is not None
    }
    groups: dict[int, list[str]] = defaultdict(list)
    for aid in by_id:
        groups[communities.get(aid, (-1, False))[0]].append(aid)
    campaigns: list[Campaign] = []
    member_of: dict[str, tuple[str, float]] = {}
    pending: list[tuple[float, int, list[str], float]] = []
    for comm, ids in groups.items():
        cands = [a for a in ids if a not in allowed]
        if comm < 0 or len(cands) < cfg.min_campaign_accounts:
            continue
        core = [a for a in cands if communities[a][1]] or cands
        orgs = {by_id[a].get("org_id") or a for a in core}
        ident = (
            sum(
                1
                for a in core
                if edge_kinds_by_account.get(a, {}).get("payment")
                or edge_kinds_by_account.get(a, {}).get("creation_burst")
            )
            / len(core)
            if len(orgs) > 1
            else 0.0
        )
        cs = score_community(
            [by_id[a] for a in core],
            [scores[a] for a in core],
            behaviour_share.get(comm, 0.0),
            ident,
        )
        if cs.risk < cfg.campaign_threshold:
            continue
        members = sorted({*core, *(a for a in cands if scores[a].risk >= cfg.member_threshold)})
        volume = sum(int(by_id[a].get("n_events") or 0) for a in members)
        if len(members) < cfg.min_campaign_accounts or volume < cfg.min_campaign_events:
            continue
        pending.append((-float(volume), comm, members, cs.risk))
    rule_by_id = {r.id: r for r in rules}
    for idx, (neg_vol, comm, members, risk) in enumerate(sorted(pending), 1):
        cid = f"campaign-{idx:03d}"
        mrows = [by_id[a] for a in members]
        kinds: Counter[str] = Counter()
        for a in members:
            kinds.update(edge_kinds_by_account.get(a, {}))
        fired: Counter[str] = Counter(r.id for a in members for r in scores[a].rules)
        evidence = {
            "edges": {k: v // 2 for k, v in kinds.most_common()},
            "edge_reasons": {k: EDGE_REASONS.get(k, k) for k in kinds},
            "rules_fired": dict(fired.most_common()),
            "distill_share": round(
                sum(float(r.get("distill_share") or 0) * int(r.get("n_events") or 0) for r in mrows)
                / max(-neg_vol, 1),
                4,
            ),
            "distinct_orgs": len({r.get("org_id") for r in mrows if r.get("org_id")}),
            "community": comm,
        }
        campaigns.append(
            Campaign(
                campaign_id=cid,
                accounts=tuple(members),
                risk=risk,
                tactics=tuple(_tactics(mrows, sig_cols, fired, rule_by_id, kinds, atlas_of or {})),
                evidence=evidence,
                first_seen=min(r["first_seen"] for r in mrows),
                last_seen=max(r["last_seen"] for r in mrows),
                volume=int(-neg_vol),
                tokens=sum(
                    int(r.get("input_tokens") or 0) + int(r.get("output_tokens") or 0)
                    for r in mrows
                ),
                community=comm,
            )
        )
        for a in members:
            member_of[a] = (cid, risk)
    verdicts: list[AccountVerdict] = []
    for aid in sorted(by_id):
        s = scores[aid]
        reasons = s.reasons()
        rule_ids = tuple(r.id for r in s.rules)
        if aid in allowed:
            e = allowed[aid]
            until = f" until {e.expires.date().isoformat()}" if e.expires else ""
            verdicts.append(
                AccountVerdict(
                    aid,
                    round(s.risk, 4),
                    "legit",
                    "",
                    (f"allow-listed{until}: {e.reason}", *reasons[:2]),
                    rule_ids,
                )
            )
            continue
        if aid in member_of:
            cid, crisk = member_of[aid]
            own = edge_kinds_by_account.get(aid, {})
            link = ", ".join(
                f"{EDGE_REASONS.get(k, k)} ({n})"
                for k, n in sorted(own.items(), key=lambda kv: -kv[1])[:2]
            )
            why = [f"member of {cid} (risk {crisk:.2f})"] + ([f"linked: {link}"] if link else [])
            verdicts.append(
                AccountVerdict(
                    aid,
                    round(max(s.risk, crisk), 4),
                    "campaign",
                    cid,
                    tuple(why + reasons[:2]),
                    rule_ids,
                )
            )
            continue
        n = int(by_id[aid].get("n_events") or 0)
        suspect = s.risk >= cfg.suspect_threshold and n >= cfg.min_campaign_events
        verdicts.append(
            AccountVerdict(
                aid,
                round(s.risk, 4),
                "suspect" if suspect else "legit",
                "",
                tuple(reasons),
                rule_ids,
            )
        )
    return verdicts, campaigns
