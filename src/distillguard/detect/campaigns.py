"""From scored accounts and communities to verdicts and campaign records.

A community becomes a campaign when its aggregate risk reaches ``campaign_threshold``; its
members are the core accounts (behaviour edges inside it) plus any member whose own risk
reaches ``member_threshold``. Allow-listed accounts are never members: they get verdict
``legit`` with the allow-list's reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distillguard.detect.allowlist import AllowList
from distillguard.detect.config import DetectConfig
from distillguard.detect.families import FamilyGroup
from distillguard.detect.intel_signal import INTEL_EDGE_REASONS, IntelSignals, fold_peer_groups
from distillguard.detect.linking import EDGE_REASONS
from distillguard.detect.membership import (
    CAMPAIGN_LIKE,
    CARD_LIKE,
    NOT_CROWD,
    FamilyUsage,
    FeatureRows,
    Pending,
    PoolShare,
    admit_quiet_members,
    age_fits,
    age_range,
    attach_by_family,
    content_gate,
    content_log_ratio,
    distill_share_of,
    hours_apart,
    operational_differences,
    operator_differences,
    profile_gate,
    repeat_gate,
    requests_of,
    share_fits,
    signal_mix,
    split_by_network,
)
from distillguard.detect.operators import (
    PairsOf,
    identity_components,
    operates_apart,
    split_by_behaviour,
    split_by_operator,
    supported_pairs,
)
from distillguard.detect.privacy import drop_thin_campaigns, identity_share
from distillguard.detect.ruleset import Rule
from distillguard.detect.scoring import (
    AccountScore,
    is_privacy_mode,
    score_account,
    score_community,
)

#: The MITRE ATLAS techniques a campaign's tactics are reported as (id -> name).
ATLAS_TECHNIQUES: dict[str, str] = {
    "AML.T0024.002": "Extract AI Model",
    "AML.T0005.001": "Train Proxy via Replication",
    "AML.T0008.005": "AI Service Proxies",
    "AML.T0021": "Establish Accounts",
    "AML.T0054": "LLM Jailbreak",
    "AML.T0056": "Extract LLM System Prompt",
    "AML.T0040": "AI Model Inference API Access",
}

#: Signal-name fragment -> (procedure, ATLAS ids). Used when the signal registry does not
#: carry ATLAS ids itself.
SIGNAL_TACTICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reason": ("reasoning-trace elicitation", ("AML.T0024.002", "AML.T0005.001")),
    "rubric": ("rubric grading (model as judge)", ("AML.T0024.002", "AML.T0005.001")),
    "grad": ("rubric grading (model as judge)", ("AML.T0024.002", "AML.T0005.001")),
    "synth": ("synthetic-data generation", ("AML.T0024.002", "AML.T0005.001")),
    "sweep": ("capability sweep", ("AML.T0024.002",)),
    "capab": ("capability sweep", ("AML.T0024.002",)),
    "cod": ("capability sweep (coding, agents)", ("AML.T0024.002",)),
    "tool": ("capability sweep (tool use)", ("AML.T0024.002",)),
    "jail": ("jailbreak prompts", ("AML.T0054",)),
    "extract": ("system-prompt extraction", ("AML.T0056",)),
    "system": ("system-prompt extraction", ("AML.T0056",)),
}


#: Edge kinds that attach a low-volume account to a campaign (with its content): identity,
#: not merely similar behaviour, which small legitimate accounts share by chance.
ATTACH_KINDS: frozenset[str] = frozenset({"payment", "creation_burst", "ip"})


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
    procedure = name.replace("_", " ")
    for frag, tactic in SIGNAL_TACTICS.items():
        if frag in name:
            procedure = tactic[0]
            if name not in atlas_of:
                return tactic
            break
    return procedure, atlas_of.get(name, ("AML.T0024.002",))


class _TacticTally:
    """Evidence per ATLAS technique: the largest share seen and the procedures behind it."""

    def __init__(self) -> None:
        self.share: dict[str, float | None] = {}
        self.procedures: dict[str, list[str]] = {}

    def add(self, atlas: Sequence[str], procedure: str, share: float | None) -> None:
        for tid in atlas:
            if tid not in ATLAS_TECHNIQUES:
                continue
            old = self.share.get(tid)
            if share is not None:
                self.share[tid] = max(old or 0.0, share)
            elif tid not in self.share:
                self.share[tid] = None
            procs = self.procedures.setdefault(tid, [])
            if procedure not in procs:
                procs.append(procedure)

    def rows(self) -> list[dict[str, Any]]:
        order = sorted(self.share, key=lambda t: (-(self.share[t] or 0.0), t))
        return [
            {
                "name": ATLAS_TECHNIQUES[t],
                "atlas": [t],
                "share": None if self.share[t] is None else round(float(self.share[t] or 0), 4),
                "source": "; ".join(self.procedures[t]),
            }
            for t in order
        ]


def _tactics(
    members: Sequence[Mapping[str, Any]],
    sig_cols: Sequence[str],
    fired: Counter[str],
    rules: Mapping[str, Rule],
    edge_kinds: Mapping[str, int],
    atlas_of: Mapping[str, tuple[str, ...]],
) -> list[dict[str, Any]]:
    """The campaign's tactics as MITRE ATLAS techniques, each with the evidence behind it.

    ``share`` is the share of the campaign's requests (content signals) or accounts (rules,
    account age) showing the technique, None when it is a property of the whole group
    (shared infrastructure, API access); ``source`` names the procedures seen.
    """
    events = sum(int(r.get("n_events") or 0) for r in members) or 1
    tally = _TacticTally()
    for col in sig_cols:
        share = (
            sum(float(r.get(f"{col}_share") or 0) * int(r.get("n_events") or 0) for r in members)
            / events
        )
        if share >= 0.05:
            procedure, atlas = _signal_tactic(col, atlas_of)
            tally.add(atlas, f"{procedure} ({share:.0%} of requests)", share)
    young = sum(1 for r in members if (r.get("account_age_days") or 999) < 14)
    if young >= 2 or edge_kinds.get("creation_burst", 0) > 0:
        tally.add(
            ("AML.T0021",),
            f"fresh accounts ({young} created < 14 days before use), creation bursts",
            young / max(len(members), 1),
        )
    infra = edge_kinds.get("payment", 0) + edge_kinds.get("ip", 0) + edge_kinds.get("slash24", 0)
    if infra > 0 and len(members) >= 5:
        tally.add(("AML.T0008.005",), "many accounts on shared payment or network", None)
    for rid, n in fired.most_common():
        rule = rules[rid]
        tally.add(rule.atlas, f"rule {rid}", n / max(len(members), 1))
    tally.add(("AML.T0040",), "all traffic went through the inference API", None)
    return tally.rows()


def _add_family_groups(
    pending: list[tuple[float, int, list[str], float]],
    groups: Sequence[FamilyGroup],
    by_id: Mapping[str, Mapping[str, Any]],
    allowed: Mapping[str, Any],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
) -> dict[str, str]:
    """Fold family-crowd groups into ``pending`` campaigns (in place); return member notes.

    A group whose fitting users are partly campaign members already extends the campaign
    holding most of them; otherwise it is scored like a community over its users (behaviour
    share 1: they are tied by the family) and becomes a campaign of its own when the score
    reaches ``campaign_threshold`` and it is large enough.
    """
    notes: dict[str, str] = {}
    assigned = {a: i for i, p in enumerate(pending) for a in p[2]}
    for g in groups:
        accs = [a for a in g.accounts if a in by_id and a not in allowed]
        if len(accs) < cfg.min_campaign_accounts:
            continue
        note = (
            f"sends the same probing prompts verbatim as {len(g.accounts) - 1} other accounts "
            f"({g.distill_share:.0%} of those requests carry distillation content)"
            if g.verbatim
            else f"uses a rare template family with {len(g.accounts) - 1} other accounts "
            f"({g.distill_share:.0%} of its requests carry distillation content)"
        )
        fresh = [a for a in accs if a not in assigned]
        hit = Counter(assigned[a] for a in accs if a in assigned)
        if hit:
            idx = hit.most_common(1)[0][0]
            neg_vol, comm, members, risk = pending[idx]
            vol = requests_of(fresh, by_id)
            pending[idx] = (neg_vol - vol, comm, sorted({*members, *fresh}), risk)
        else:
            volume = requests_of(accs, by_id)
            if volume < cfg.family_crowd_min_events:
                continue
            cs = score_community([by_id[a] for a in accs], [scores[a] for a in accs], 1.0, 0.0)
            if cs.risk < cfg.campaign_threshold:
                continue
            idx = len(pending)
            pending.append((-float(volume), -1 - idx, sorted(accs), cs.risk))
        for a in fresh:
            assigned[a] = idx
            notes[a] = note
    return notes


def _minus(total: Mapping[str, float], part: Mapping[str, float]) -> dict[str, float]:
    """Signal mix ``total`` without ``part`` (floored at 0)."""
    return {k: max(v - part.get(k, 0.0), 0.0) for k, v in total.items()}


def _events_floor(
    members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], cfg: DetectConfig
) -> int:
    """Requests a graph campaign of ``members`` needs: ``min_campaign_events``, or a family
    crowd's floor (``family_crowd_min_events``) when the members are as many accounts of as
    many organisations as a family crowd needs (``family_crowd_min_accounts`` and
    ``_min_orgs``). Every member has already passed the member gates (its own risk, content
    like the group's, its signal profile): five such accounts of three organisations in the
    first hours of a fleet of one-day accounts are a campaign before they have sent twenty
    requests together (held-out ``jailbreak-swarm`` at scale 0.05: six accounts, 13 requests
    of jailbreaks and extraction, at 5 % of its volume).
    """
    floor = cfg.min_campaign_events
    if cfg.family_crowd_min_accounts and len(members) >= cfg.family_crowd_min_accounts:
        orgs = {by_id[a].get("org_id") or f"~{a}" for a in members}
        if len(orgs) >= cfg.family_crowd_min_orgs:
            floor = min(floor, cfg.family_crowd_min_events)
    return floor


def _second_operation(
    pending: list[Pending],
    others: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
    behaviour: float,
    identity_pairs: PairsOf | None = None,
    comm: int | None = None,
    communities: Mapping[str, tuple[int, bool]] | None = None,
) -> list[str]:
    """Add candidates the profile gate left out, and no campaign took, as a campaign of their
    own (in place).

    One community can hold two operations with different tactics (a release chaser's
    capability sweeps beside a hydra's reasoning harvest, on the same proxies): the profile
    gate keeps the core's tactics and leaves the others out. Those that no campaign took in
    later (network split, wrapper families) become a campaign when their clearly risky
    accounts (``suspect_threshold``), or else their largest identity-tied group of accounts
    at ``member_threshold`` (``identity_pairs`` given), are enough for one, score as a
    campaign on their own, and share a tactic profile among themselves.

    Unless they are a role of the community's own campaign (``comm``), or of one the splits
    made of its accounts (``communities`` given): one operation giving a fifth of its
    accounts another job (synthetic data beside a reasoning harvest) shares the others'
    identities and runs them alike. When most of the group has an identity path
    (``identity_pairs``: card, IP, sign-up burst) to that campaign's members, works the same
    hours of the day (:func:`~distillguard.detect.membership.hours_apart`) and differs on
    fewer than ``identity_split_min_features`` operational features, it joins that campaign
    (the splits' own tests, read the other way). (Two accounts of a one-card fleet, left
    out for their tactics, became a campaign of their own because the fleet had been split
    off the community's campaign, which kept two other operations; a drawn scenario of
    benchmarks/bench_detect_random.py.)

    Returns:
        the accounts that joined the community's campaign as a role of it.
    """
    anchors = [a for a in others if scores[a].risk >= cfg.suspect_threshold]
    if len(anchors) < cfg.min_campaign_accounts and identity_pairs is not None:
        # Or one operator's accounts (a card, an IP, a sign-up burst) that each look like a
        # campaign member: a few heavy, aged, verified accounts on one card harvesting at a
        # licensed customer's volume stay below the lone-suspect bar one by one.
        risky = [a for a in others if scores[a].risk >= cfg.member_threshold]
        if len(risky) >= cfg.min_campaign_accounts:
            anchors = identity_components(risky, identity_pairs(risky))[0]
    if len(anchors) < cfg.min_campaign_accounts:
        return []
    cs = score_community([by_id[a] for a in anchors], [scores[a] for a in anchors], behaviour)
    if cs.risk < cfg.campaign_threshold:
        return []
    group = profile_gate(others, anchors, by_id, cfg.member_min_profile_similarity)
    volume = requests_of(group, by_id)
    if len(group) < cfg.min_campaign_accounts or volume < _events_floor(group, by_id, cfg):
        return []
    if identity_pairs is not None:
        for home in _homes(pending, comm, communities):
            neg_vol, home_comm, members, risk = pending[home]
            if _one_operation(members, group, by_id, identity_pairs, cfg):
                pending[home] = (neg_vol - volume, home_comm, sorted({*members, *group}), risk)
                return list(group)
    pending.append((-float(volume), -3000 - len(pending), sorted(group), cs.risk))
    return []


def _release(
    pending: list[Pending], taken_from: Mapping[str, int], by_id: Mapping[str, Mapping[str, Any]]
) -> None:
    """Take accounts out of the campaigns that had them (``taken_from``: account -> index in
    ``pending``), in place."""
    out: dict[int, list[str]] = defaultdict(list)
    for a, i in taken_from.items():
        out[i].append(a)
    for i, accs in out.items():
        neg_vol, comm, members, risk = pending[i]
        gone = set(accs)
        pending[i] = (
            neg_vol + requests_of(accs, by_id),
            comm,
            [a for a in members if a not in gone],
            risk,
        )


def _homes(
    pending: Sequence[Pending],
    comm: int | None,
    communities: Mapping[str, tuple[int, bool]] | None,
) -> list[int]:
    """The campaigns made of community ``comm``'s accounts: its own, then those the splits
    made of it (most of their members from it), largest first."""
    own = [i for i, p in enumerate(pending) if p[1] == comm]
    if comm is None or communities is None:
        return own
    split = [
        i
        for i, p in enumerate(pending)
        if p[1] != comm
        and 2 * sum(1 for a in p[2] if communities.get(a, (None, False))[0] == comm) > len(p[2])
    ]
    return own + sorted(split, key=lambda i: (-len(pending[i][2]), i))


def _one_operation(
    members: Sequence[str],
    group: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    identity_pairs: PairsOf,
    cfg: DetectConfig,
) -> bool:
    """Whether ``group`` runs as a role of the campaign ``members``: most of it identity-tied
    to the members, the same working hours, the same way of running accounts."""
    both = [*members, *group]
    home = set(members)
    tied = 0
    for comp in identity_components(both, identity_pairs(both)):
        if not home.isdisjoint(comp):
            tied += sum(1 for a in comp if a not in home)
    if tied < cfg.identity_split_main * len(group):
        return False
    if hours_apart(members, group, by_id):
        return False
    return len(operational_differences(members, group, by_id)) < cfg.identity_split_min_features


def _tied_anchors(
    pending: list[Pending],
    core: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
    behaviour: float,
    identity_pairs: PairsOf,
    taken: Collection[str],
    behaviour_pairs: PairsOf | None = None,
) -> None:
    """Add an operation found among a crowd's tail as a campaign of its own (in place).

    A core judged the riskiest tail of a crowd (:func:`_crowd_tail`) can still hold an
    operation's first accounts: early in a log, four prober accounts sit in a community of
    1,600 residential users their network and client software tie them to, among a hundred
    mildly risky ones. The clearly risky accounts (``suspect_threshold``) that one operator
    ties together (a card, an IP, a sign-up burst: ``identity_pairs``) become a campaign
    when there are enough of them and they score as one on their own. Developers who merely
    look risky are not tied to each other by an operator's identity. (A bar of
    ``member_threshold`` was tried in the twenty-second session: at full scale it made
    three campaigns of two legitimate accounts each, at risk 0.58-0.77, in eval-crowd.)
    ``taken``: the accounts already in a campaign.

    With ``behaviour_pairs``, the accounts that are lone suspects anyway (risk ≥
    ``suspect_threshold``, ``min_campaign_events`` requests, not established) and that no
    identity ties are also grouped by dense behaviour ties (template family, lockstep
    minutes, signal profile, sign-up burst; ties that close a triangle or are an account's
    only one: :func:`~distillguard.detect.operators.supported_pairs`): five accounts of
    1,000-4,300 requests each, on their own cards and mobile IPs, sending in the same
    minutes, were five lone suspects and no campaign (a drawn scenario of
    benchmarks/bench_detect_random.py). The grouping flags no account that was not flagged
    already (the later steps may attach accounts to the campaign, as to any).
    """
    anchors = [a for a in core if scores[a].risk >= cfg.suspect_threshold and a not in taken]
    if len(anchors) < cfg.min_campaign_accounts:
        return
    grouped: set[str] = set()

    def add(group: list[str]) -> None:
        cs = score_community([by_id[a] for a in group], [scores[a] for a in group], behaviour)
        volume = requests_of(group, by_id)
        if cs.risk >= cfg.campaign_threshold and volume >= _events_floor(group, by_id, cfg):
            pending.append((-float(volume), -4000 - len(pending), sorted(group), cs.risk))
            grouped.update(group)

    for group in identity_components(anchors, identity_pairs(anchors)):
        if len(group) < cfg.min_campaign_accounts:
            break
        add(group)
    if behaviour_pairs is None:
        return
    suspects = [
        a
        for a in anchors
        if a not in grouped
        and int(by_id[a].get("n_events") or 0) >= cfg.family_attach_min_requests
        and _established(by_id[a], cfg) is None
    ]
    if len(suspects) < cfg.min_campaign_accounts:
        return
    ties = supported_pairs(suspects, behaviour_pairs(suspects))
    for group in identity_components(suspects, ties):
        if len(group) < cfg.min_campaign_accounts:
            break
        # Accounts with too few requests to be lone suspects are new flags: they take as
        # many accounts as a family crowd (``family_crowd_min_accounts``; 0: never).
        thin = any(int(by_id[a].get("n_events") or 0) < cfg.min_campaign_events for a in group)
        crowd = cfg.family_crowd_min_accounts
        if thin and (not crowd or len(group) < max(crowd, cfg.min_campaign_accounts)):
            continue
        add(group)


def _rejudge_remainders(
    pending: list[Pending],
    sizes: Sequence[int],
    groups: Mapping[int, Sequence[str]],
    allowed: Collection[str],
    communities: Mapping[str, tuple[int, bool]],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    behaviour_share: Mapping[int, float],
    kinds_of: Mapping[str, Mapping[str, int]],
    cfg: DetectConfig,
) -> None:
    """Judge again, on their own, the campaigns the splits took members from (in place).

    ``sizes``: each campaign's size before the splits. What stays behind when an operation
    is split off was judged with it: a community of 4,600 developers and one heavy
    nine-account operation scored as a campaign (the operation's volume made the group's
    content look like one), and once the operation was split off, the 193 developers left
    behind were reported as a campaign of their own at the group's risk (FPR 5.6 % in a
    drawn scenario of benchmarks/bench_detect_random.py, on the simulator's shipped corpus
    slice, whose developer prompts read as capability sweeps 30-40 % of the time). A
    remainder is kept only when it still scores as a campaign and is not the riskiest tail
    of its community's crowd (:func:`_crowd_tail`); a dropped one keeps its place in
    ``pending`` (the split-off campaigns are known by index) with no members and a
    community id of no community.
    """
    for i, before in enumerate(sizes):
        neg_vol, comm, members, _ = pending[i]
        if len(members) >= before:
            continue
        cands = [a for a in groups.get(comm, ()) if a not in allowed]
        behaviour = behaviour_share.get(comm, 0.0)
        risk = _group_risk(list(members), by_id, scores, behaviour, kinds_of) if members else 0.0
        if (
            len(members) < cfg.min_campaign_accounts
            or risk < cfg.campaign_threshold
            or _crowd_tail(members, cands, communities, by_id, scores, behaviour, kinds_of, cfg)
        ):
            pending[i] = (0.0, -5000 - i, [], risk)
        else:
            pending[i] = (neg_vol, comm, members, risk)


def _established(row: Mapping[str, Any], cfg: DetectConfig) -> float | None:
    """The account's age in days when it is verified and ``established_min_age_days`` old."""
    if cfg.established_min_age_days <= 0 or int(row.get("verified") or 0) != 1:
        return None
    age = row.get("account_age_days")
    if age is None or age != age or float(age) < cfg.established_min_age_days:
        return None
    return float(age)


def _crowd_tail(
    core: Sequence[str],
    cands: Sequence[str],
    communities: Mapping[str, tuple[int, bool]],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    behaviour: float,
    kinds_of: Mapping[str, Mapping[str, int]],
    cfg: DetectConfig,
) -> bool:
    """Whether ``core`` is only the riskiest tail of a crowd, not an operation.

    It is when it is less than ``crowd_tail_share`` of the community's tied members, its
    requests are not mostly distillation content (``crowd_tail_max_content``), and it does
    not score as a campaign (``campaign_threshold``) once its content is counted only in
    excess of the crowd's: ``(c - r) / (1 - r)`` for a core sending a share ``c`` of
    distillation content among tied members sending ``r``. The core was picked from the
    crowd for its risk, and risk rises with content, so the riskiest few of hundreds of
    developers linked by the same kind of coding prompts send about twice the crowd's share
    (full scale, 3,000 developers: 0.41 against 0.20, scored 0.59 as a campaign; 0.41 on
    the excess). An operation in the crowd stands out on more than content: a careful
    release chaser among developers and academics who adopt the new model too (0.58
    against 0.38) asks for the max_tokens cap and scores 0.81 on the excess. A small
    operation inside a large community (a campaign hidden in a reseller's traffic, a needle
    among millions of developers' requests) mostly sends more than the crowd's content
    share and keeps most of it. No effect without text (no content to compare).
    """
    kept = set(core)
    rest = [a for a in cands if communities[a][1] and a not in kept]
    if len(core) >= cfg.crowd_tail_share * (len(core) + len(rest)):
        return False
    content = distill_share_of(core, by_id)
    # A core whose requests are mostly distillation content is an operation even when the
    # rest of its community is too (early in a log, a hydra's accounts with a request or two
    # each sit beside a release chaser's first two accounts, below the member gate).
    if content >= cfg.crowd_tail_max_content:
        return False
    crowd = distill_share_of(rest, by_id)
    if crowd <= 0.0:
        return False
    excess = max(0.0, (content - crowd) / (1.0 - crowd)) if crowd < 1.0 else 0.0
    risk = _group_risk(list(core), by_id, scores, behaviour, kinds_of, distill=excess)
    return risk < cfg.campaign_threshold


def _rests_on_one(
    members: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    behaviour: float,
    kinds_of: Mapping[str, Mapping[str, int]],
    cfg: DetectConfig,
) -> bool:
    """Whether the group's case rests on one account: it sends more than
    ``lead_account_max_share`` of the group's requests and the others do not score as a
    campaign without it (one heavy harvester and the few developers its wrappers' popular
    phrasings tie to it). That account is then judged alone (a lone ``suspect`` on its own
    risk); a hydra with one busy account keeps it, its other accounts being a campaign too.
    """
    top = _lead_account(members, by_id, cfg)
    if top is None:
        return False
    rest = [a for a in members if a != top]
    return _group_risk(rest, by_id, scores, behaviour, kinds_of) < cfg.campaign_threshold


def _lead_account(
    members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], cfg: DetectConfig
) -> str | None:
    """The member sending more than ``lead_account_max_share`` of the group's requests."""
    volumes = [(int(by_id[a].get("n_events") or 0), a) for a in members]
    total = sum(v for v, _ in volumes)
    if not volumes or total <= 0:
        return None
    top_volume, top = max(volumes)
    return top if top_volume > cfg.lead_account_max_share * total else None


def _group_risk(
    group: list[str],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    behaviour: float,
    kinds_of: Mapping[str, Mapping[str, int]],
    distill: float | None = None,
) -> float:
    """The community score's risk of ``group`` (with its identity share; ``distill``
    replaces its content term, see :func:`score_community`)."""
    return score_community(
        [by_id[a] for a in group],
        [scores[a] for a in group],
        behaviour,
        identity_share(group, by_id, kinds_of),
        distill=distill,
    ).risk


def _without_established_lead(
    members: list[str],
    by_id: Mapping[str, Mapping[str, Any]],
    cfg: DetectConfig,
    identity_pairs: PairsOf | None,
) -> list[str]:
    """``members`` without a lead account that is an established customer tied only by
    behaviour.

    An account sending more than ``lead_account_max_share`` of the group's requests, verified
    and ``established_min_age_days`` old, with no identity tie (card, IP, sign-up burst) to
    any other member, is a heavy customer whose content resembles the campaign's: an
    evaluation harness sweeping the public benchmark the campaign harvests sends the same
    payloads, so template families and signal profiles tie it to the fleet. It is judged
    alone, on its own risk, as any other established account (the caller drops the group
    when the rest no longer scores as a campaign). Without identity pairs nothing changes.
    """
    if identity_pairs is None or len(members) <= cfg.min_campaign_accounts:
        return members
    top = _lead_account(members, by_id, cfg)
    if top is None or _established(by_id[top], cfg) is None:
        return members
    for group in identity_components(members, identity_pairs(members)):
        if top in group:
            return members if len(group) > 1 else [a for a in members if a != top]
    return members


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
    scores: Mapping[str, AccountScore] | None = None,
    family_groups: Sequence[FamilyGroup] = (),
    networks: Mapping[str, frozenset[str]] | None = None,
    family_usage: FamilyUsage | None = None,
    intel: IntelSignals | None = None,
    intel_min_accounts: int = 2,
    identity_pairs: PairsOf | None = None,
    behaviour_pairs: PairsOf | None = None,
    prompt_pool: PoolShare | None = None,
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
        scores: account scores already computed (by ``account_id``); computed when None.
        family_groups: template families whose users form an extraction crowd
            (:func:`distillguard.detect.families.family_groups`): their fitting users join
            the graph campaign that already holds most of them, or form a campaign of their
            own when the group's community score reaches ``campaign_threshold``.
        networks: account_id -> ASNs it sent from
            (:func:`distillguard.detect.membership.account_networks`); campaigns are split by
            network (:func:`~distillguard.detect.membership.split_by_network`) when given.
        family_usage: who sends through which family
            (:func:`distillguard.detect.membership.family_usage`); accounts are attached
            through the families a campaign claims when given.
        intel: peers' indicators matched locally
            (:func:`distillguard.detect.intel_signal.load_intel_signals`): accounts with
            strong intel evidence join the local campaign holding most of their peer group,
            or form a campaign of ``intel_min_accounts`` or more; every hit account's reasons
            and its campaign's evidence name the producer and indicator kinds.
        intel_min_accounts: smallest peer group that is a campaign of its own.
        identity_pairs: identity ties (payment, IP, creation burst) among given accounts
            (:func:`distillguard.detect.operators.identity_pairs`); a campaign that is two
            operations sharing wrappers and proxies is split in two when given
            (:func:`~distillguard.detect.operators.split_by_operator`).
        behaviour_pairs: behaviour ties (signal profile, template family, lockstep, creation
            burst) among given accounts; a campaign whose parts share only infrastructure
            and operate differently is split when given
            (:func:`~distillguard.detect.operators.split_by_behaviour`).
        prompt_pool: exact prompts shared with a campaign's members
            (:func:`~distillguard.detect.membership.prompt_pool`); a quiet core member that
            draws from a campaign's prompt pool joins it despite repeats when given.
    """
    if scores is None:
        scores = {str(r["account_id"]): score_account(r, rules) for r in rows}
    by_id = FeatureRows({str(r["account_id"]): r for r in rows})
    # No prompt text in the store: the scores came from the privacy-mode model.
    privacy = bool(scores) and is_privacy_mode(next(iter(scores.values())))
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
    left_out: list[tuple[int, list[str]]] = []  # candidates the profile gate left out
    quiet: dict[int, list[str]] = {}  # core members below their community's member gate
    tails: list[tuple[int, list[str]]] = []  # cores judged the riskiest tail of a crowd
    # The distillation-like content of everyone (text mode): the crowd a campaign hides in.
    content_users = [a for a in (family_usage.by_account if family_usage else ()) if a in by_id]
    everyone = signal_mix(content_users, by_id)
    for comm, ids in groups.items():
        cands = [a for a in ids if a not in allowed]
        if comm < 0 or len(cands) < cfg.min_campaign_accounts:
            continue
        behaviour = behaviour_share.get(comm, 0.0)
        # The community is judged over its suspicious core: members tied in by behaviour
        # that also look at least mildly unusual on their own. A reseller's or a NAT's
        # ordinary users share the infrastructure but not the behaviour, so they neither
        # dilute the campaign nor join it.
        core = [a for a in cands if communities[a][1] and scores[a].risk >= cfg.member_min_risk]
        if len(core) < cfg.min_campaign_accounts:
            continue
        # Members must also look like the group: an account far less suspicious than the
        # community's typical member (a new developer whose coding prompts share a signal
        # with a hydra's capability sweep) is a bystander, not a member.
        risks = sorted(scores[a].risk for a in core)
        gate = max(cfg.member_min_risk, cfg.member_relative_risk * risks[len(risks) // 2])
        # In a very large community the core's median can be a crowd of mildly unusual
        # legitimate users (young developers whose coding prompts look half like a sweep)
        # around a small operation of clearly risky accounts (150k exchanges among 10 M): when
        # such anchors are a fair share of the core, they set the bar for risk and content.
        anchors = [a for a in core if scores[a].risk >= cfg.suspect_threshold]
        ref = core
        if len(anchors) >= max(cfg.min_campaign_accounts, cfg.anchor_min_share * len(core)):
            top = sorted(scores[a].risk for a in anchors)
            gate = max(gate, cfg.member_relative_risk * top[len(top) // 2])
            ref = anchors
        below = [
            a for a in cands if communities[a][1] and cfg.quiet_min_risk <= scores[a].risk < gate
        ]
        core = [a for a in core if scores[a].risk >= gate]
        kept = set(core)
        if len(core) < cfg.min_campaign_accounts:
            continue
        if _crowd_tail(
            core, cands, communities, by_id, scores, behaviour, edge_kinds_by_account, cfg
        ):
            tails.append((comm, core))
            continue
        core_risk = _group_risk(core, by_id, scores, behaviour, edge_kinds_by_account)
        if core_risk < cfg.campaign_threshold:
            continue
        # Accounts too new to have a risk of their own (a handful of requests) join when they
        # share an identity with the group (payment, creation burst, IP) inside this community
        # AND what little they sent is
        # extraction-shaped content: infrastructure plus behaviour, never either alone.
        # That content must also not be clearly more typical of the crowd outside the group:
        # a residential IP or a creation minute is shared by chance with a casual user whose
        # two coding prompts read like the most common kind of distillation content.
        inside = set(cands)
        crowd = _minus(everyone, signal_mix([a for a in content_users if a in inside], by_id))
        mix = signal_mix([a for a in ref if a in kept] or core, by_id)
        tied = [a for a in cands if ATTACH_KINDS & set(edge_kinds_by_account.get(a, {}))]
        attached = {
            a
            for a in tied
            if float(by_id[a].get("distill_share") or 0.0) >= cfg.attach_min_content
            and float(by_id[a].get("dup_prompt_share") or 0.0) < 0.5
            and (a in kept or content_log_ratio(signal_mix([a], by_id), mix, crowd) >= NOT_CROWD)
        }
        # Own evidence: in text mode a member's content must look like the group's, however
        # many weak edges (popular network, client, signal profile) tie it to the group.
        like = [a for a in ref if a in kept] or core
        cgate = content_gate(like, by_id, cfg.member_relative_content)
        dgate = repeat_gate(like, by_id, cfg.member_max_repeats)
        # An account attached by identity has a handful of requests: its share is measured on
        # so few that 3 of 5 is what a member at the gate's rate sends four times in ten.
        # It is forgiven only content that is plainly the campaign's, not the crowd's, from
        # an account of the core's age (a developer of 128 days whose two coding prompts of
        # three read as a sweep, on one of a two-day-old chaser fleet's IPs, is not one).
        # And only when the campaign's identity ties say something: when most accounts tied
        # to it outside its core are attached (send its kind of content), not when they are
        # mostly strangers on its residential IPs and sign-up minutes (a 2,000-account hydra
        # at 1 M events: 15 of 250), among whom a casual user's one reasoning prompt of two
        # is chance, not a member's thin share.
        # Where they are not, an account on a card of the campaign's (a reseller's extractor
        # among its customers) is still not chance when what it sent is the campaign's beyond
        # doubt (``CARD_LIKE``): that card is the reseller's, which all its customers share,
        # and one whose coding prompt of two reads as the campaign's sweep is as likely a
        # customer (nine of a reseller's customers in a drawn scenario,
        # benchmarks/bench_detect_random.py). One IP or sign-up minute shared with many
        # members is chance (10 M events: 36 strangers with 2-22 edges to two hydras, through
        # a residential IP, a sign-up minute or one of each).
        outside = [a for a in tied if a not in kept]
        telling = len([a for a in outside if a in attached]) >= cfg.attach_tie_precision * len(
            outside
        )
        alpha = cfg.attach_content_alpha
        ages = age_range(like, by_id)
        forgiven = (
            {
                a
                for a in attached
                if age_fits(by_id[a], ages)
                and (like_it := content_log_ratio(signal_mix([a], by_id), mix, crowd))
                >= CAMPAIGN_LIKE
                and (
                    telling
                    or (
                        edge_kinds_by_account.get(a, {}).get("payment", 0) > 0
                        and like_it >= CARD_LIKE
                    )
                )
            }
            if alpha > 0
            else set()
        )
        members = sorted(
            a
            for a in {
                *core,
                *(a for a in cands if scores[a].risk >= max(gate, cfg.member_threshold)),
                *attached,
            }
            if share_fits(
                float(by_id[a].get("n_events") or 0),
                float(by_id[a].get("distill_share") or 0.0),
                cgate,
                alpha if a in forgiven else 0.0,
            )
            and (
                float(by_id[a].get("dup_prompt_share") or 0.0) < dgate
                or _established(by_id[a], cfg) is None
            )
        )
        if privacy:
            # No text, no content gate: a member's own evidence is its own risk, which must
            # be comparable to the group's typical member's (a reseller's own customers share
            # its payment instrument and proxies, and look half as risky as the campaign).
            typical = sorted(scores[a].risk for a in ([a for a in ref if a in kept] or core))
            rgate = cfg.member_relative_content * typical[len(typical) // 2]
            members = [a for a in members if scores[a].risk >= rgate]
        candidates = members
        members = profile_gate(members, core, by_id, cfg.member_min_profile_similarity)
        if len(candidates) > len(members):
            kept_ids = set(members)
            left_out.append((comm, [a for a in candidates if a not in kept_ids]))
        # The same test on the members the gates kept: a couple of very heavy accounts in the
        # core make its request-weighted content look like an operation's, while the members
        # kept for the core's (account-counted) tactics are the crowd's tail.
        if _crowd_tail(
            members, cands, communities, by_id, scores, behaviour, edge_kinds_by_account, cfg
        ):
            tails.append((comm, members))
            continue
        if _rests_on_one(members, by_id, scores, behaviour, edge_kinds_by_account, cfg):
            continue
        volume = requests_of(members, by_id)
        if len(members) < cfg.min_campaign_accounts or volume < _events_floor(members, by_id, cfg):
            continue
        pending.append((-float(volume), comm, members, core_risk))
        if below:
            quiet[comm] = below
    if identity_pairs is not None and tails:
        # the tails are cores of distinct communities: what one adds is in no other's core
        taken = {a for p in pending for a in p[2]}
        for comm, core in tails:
            _tied_anchors(pending, core, by_id, scores, cfg, behaviour_share.get(comm, 0.0),
                          identity_pairs, taken, behaviour_pairs)  # fmt: skip
    family_note = _add_family_groups(pending, family_groups, by_id, allowed, scores, cfg)
    before_splits = len(pending)
    sizes = [len(p[2]) for p in pending]
    if networks:
        split_by_network(pending, networks, by_id, scores, cfg, identity_pairs)
    operator_note: dict[int, list[str]] = {}
    if identity_pairs is not None:
        operator_note = split_by_operator(pending, identity_pairs, by_id, scores, cfg)
    behaviour_note: dict[int, list[str]] = {}
    if behaviour_pairs is not None:
        behaviour_note = split_by_behaviour(pending, behaviour_pairs, by_id, scores, cfg)
    split_off_ops = range(before_splits, len(pending))
    _rejudge_remainders(
        pending, sizes, groups, allowed, communities, by_id, scores, behaviour_share,
        edge_kinds_by_account, cfg,
    )  # fmt: skip
    by_wrapper: dict[str, str] = {}
    if family_usage:
        by_wrapper = attach_by_family(pending, family_usage, by_id, allowed, cfg, networks)
        family_note.update(by_wrapper)
    role = "runs another task of the same operation: its identities, hours and way of working"
    owner = {a: i for i, p in enumerate(pending) for a in p[2]}
    for comm, others in left_out:
        # Accounts the profile gate left out that a campaign of another community took in
        # through its wrapper families alone, and that run unlike it (the operator split's
        # test), are still this community's to judge: eight heavy accounts tied by their
        # IPs, left out of their community's sweep campaign for their tactics, were taken
        # into a datacenter campaign whose jailbreak wrappers they shared, and were no
        # campaign of their own (a drawn scenario of benchmarks/bench_detect_random.py).
        # Where they make one (or a role of their community's), they leave the campaign
        # that took them in. Accounts that run like it are its own members, left out of
        # the wrong community (a slow-and-low fleet spread over two communities).
        homes = set(_homes(pending, comm, communities))
        free = [a for a in others if a not in owner]
        taken_by: dict[int, list[str]] = defaultdict(list)
        for a in others:
            if a in by_wrapper and a in owner and owner[a] not in homes:
                taken_by[owner[a]].append(a)
        for i, accs in taken_by.items():
            gone = set(accs)
            rest = [a for a in pending[i][2] if a not in gone]
            if operates_apart(operator_differences(accs, rest, by_id), cfg):
                free.extend(accs)
        before = {a: owner[a] for a in free if a in owner}
        n = len(pending)
        joined = _second_operation(
            pending,
            free,
            by_id,
            scores,
            cfg,
            behaviour_share.get(comm, 0.0),
            identity_pairs,
            comm,
            communities,
        )
        family_note.update(dict.fromkeys(joined, role))
        moved = set(joined) | (set(pending[n][2]) if len(pending) > n else set())
        if moved:
            _release(pending, {a: i for a, i in before.items() if a in moved}, by_id)
            for a in moved:
                if by_wrapper.pop(a, None) is not None and a not in joined:
                    family_note.pop(a, None)
            owner = {a: i for i, p in enumerate(pending) for a in p[2]}
    if family_usage:
        admitted = admit_quiet_members(
            pending, quiet, communities, by_id, content_users, cfg, split_off_ops, prompt_pool
        )
        family_note.update(admitted)
        if admitted:
            # The admitted members can make more wrapper families the campaign's own (a
            # slow-and-low fleet's family of twelve users, eleven of them now members): the
            # accounts that sent one prompt through such a family join that campaign too.
            grown = {i for i, p in enumerate(pending) if not admitted.keys().isdisjoint(p[2])}
            family_note.update(
                attach_by_family(pending, family_usage, by_id, allowed, cfg, networks, grown)
            )
    if privacy:
        drop_thin_campaigns(pending, by_id, edge_kinds_by_account, cfg)
    if identity_pairs is not None:
        for i, (_, comm, members, _) in enumerate(pending):
            rest = _without_established_lead(members, by_id, cfg, identity_pairs)
            if len(rest) < len(members):
                # the campaign's risk is the rest's own, not the one its lead helped make
                risk = _group_risk(
                    rest, by_id, scores, behaviour_share.get(comm, 0.0), edge_kinds_by_account
                )
                keep = rest if risk >= cfg.campaign_threshold else []
                pending[i] = (-float(requests_of(keep, by_id)), comm, keep, risk)
    # A split can leave the part that stays behind below a campaign's size (one developer
    # tied to a single heavy account and its neighbour): alone, it is no campaign.
    pending[:] = [p for p in pending if len(p[2]) >= cfg.min_campaign_accounts]
    intel_note: dict[str, str] = {}
    if intel is not None:
        n_events = {a: int(r.get("n_events") or 0) for a, r in by_id.items()}
        intel_note = fold_peer_groups(pending, intel, n_events, allowed, intel_min_accounts)
    rule_by_id = {r.id: r for r in rules}
    for idx, (neg_vol, comm, members, risk) in enumerate(sorted(pending), 1):
        cid = f"campaign-{idx:03d}"
        mrows = [by_id[a] for a in members]
        kinds: Counter[str] = Counter()
        for a in members:
            kinds.update(edge_kinds_by_account.get(a, {}))
        fired: Counter[str] = Counter(r.id for a in members for r in scores[a].rules)
        # Ties broken by name: the per-account counts arrive in the order of a parallel
        # aggregation, and campaigns.json must be the same on every run.
        edges = {k: v // 2 for k, v in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))}
        if intel is not None:
            edges.update(intel.pair_counts(members))
        evidence = {
            "edges": edges,
            "edge_reasons": {k: EDGE_REASONS.get(k) or INTEL_EDGE_REASONS.get(k, k) for k in edges},
            "rules_fired": dict(fired.most_common()),
            "distill_share": round(distill_share_of(members, by_id), 4),
            "distinct_orgs": len({r.get("org_id") for r in mrows if r.get("org_id")}),
            "community": comm,
        }
        peer = (
            intel.campaign_evidence(members, sum(1 for a in members if a in intel_note))
            if intel is not None
            else None
        )
        if peer is not None:
            evidence["intel"] = peer
        if comm in operator_note:
            evidence["operator_split"] = {
                "reason": "no payment, IP or creation-burst tie to the campaign it was linked "
                "to, and it operates differently",
                "differs_in": operator_note[comm],
            }
        if comm in behaviour_note:
            evidence["behaviour_split"] = {
                "reason": "no shared content, timing or creation burst with the campaign it "
                "was linked to (only shared infrastructure), and it operates differently",
                "differs_in": behaviour_note[comm],
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
        if intel is not None and aid in intel.accounts:
            reasons = [intel.accounts[aid].reason(), *reasons]
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
                for k, n in sorted(own.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
            )
            why = [f"member of {cid} (risk {crisk:.2f})"] + ([f"linked: {link}"] if link else [])
            if not link and aid in family_note:
                why.append(family_note[aid])
            if aid in intel_note:
                why.append(intel_note[aid])
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
        row = by_id[aid]
        n = int(row.get("n_events") or 0)
        suspect = s.risk >= cfg.suspect_threshold and n >= cfg.min_campaign_events
        age = _established(row, cfg)
        if suspect and age is not None:
            suspect = False
            reasons = [
                f"not a lone suspect: verified account {age:.0f} days old (flagged with a "
                "campaign only)",
                *reasons,
            ]
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
