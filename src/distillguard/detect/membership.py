"""Campaign membership refinements that hold at scale: own evidence, networks, wrappers.

Three steps run on the candidate campaigns of :func:`distillguard.detect.campaigns.decide`
before they are numbered:

* **content gate** (:func:`content_gate`): in text mode a member must carry distillation
  content at a rate comparable to the campaign's typical member
  (``member_relative_content`` × the median ``distill_share`` of the members). Popular
  networks, client libraries and signal profiles grow with the population, so at full scale a
  developer whose prompts are 40 % reasoning requests is linked to a hydra by many weak edges;
  its neighbours' evidence must not stand in for its own.
* **network split** (:func:`split_by_network`): members are grouped by the networks (ASNs)
  they send from (accounts sharing an ASN are one group, transitively). When one group holds
  most of a campaign and the rest sit on networks that group never uses, the rest is another
  operation tied to it only by similar content (a datacenter hydra and a residential
  slow-and-low fleet running the same wrappers) and becomes a campaign of its own when it
  scores as one.
* **wrapper attach** (:func:`attach_by_family`): a template family is *claimed* by a campaign
  when at least ``family_claim_share`` of its content users (accounts with ≥
  ``attach_min_content`` distillation content, mostly new prompts) are the campaign's
  members. An account outside any campaign joins when its own content passes the campaign's
  content gate and ≥ ``family_crowd_min_share`` of its requests are in families the campaign
  claims: a slow-and-low member with two requests has no risk and no identity edge, but it
  speaks through the campaign's wrappers. Repeated for ``family_attach_rounds`` rounds.
* **content against the crowd** (:func:`content_log_ratio`): an account attached through a
  claimed network (or, in ``campaigns.decide``, through an identity edge) needs content that
  is not clearly more typical of the other content users than of the campaign.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import pyarrow as pa

from distillguard.detect.config import DetectConfig
from distillguard.detect.scoring import AccountScore, score_community
from distillguard.detect.unionfind import DisjointSets

#: A candidate campaign: (-volume, community, members, risk).
Pending = tuple[float, int, list[str], float]

#: Operational features: how an operation runs its accounts (compared on a log scale by the
#: operator split, :mod:`distillguard.detect.operators`, and by :func:`admit_quiet_members`).
OPERATIONAL = (
    "n_ips",
    "n_asns",
    "account_age_days",
    "span_hours",
    "active_days",
    "events_per_active_hour",
)

#: Operational features differ when their interquartile ranges are disjoint and their
#: medians differ at least twofold (log1p scale), so that a tight spread alone
#: (50 vs 52 IPs) is no difference.
MIN_LOG_RATIO = math.log(2.0)

#: The network split (:func:`split_by_network`) compares two parts only when they are large
#: enough that one feature setting them completely apart is unlikely by chance:
#: ``2 / C(n + m, m)``, the chance that a random feature orders ``m`` accounts all below or
#: all above ``n`` others, must be at most this. Three accounts against two are completely
#: apart on a random feature one time in five, so with six features one of them nearly
#: always "differs": a small fleet on three datacenter networks fell into two campaigns by
#: how busy its accounts happened to be. (The operator and behaviour splits compare parts
#: that identity or behaviour already set apart, and keep comparing small ones: two small
#: operations behind one reseller are 3 + 2 accounts at scale 0.05.)
MAX_SEPARATION_CHANCE = 0.05


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles (linear interpolation)."""
    xs = sorted(values)
    n = len(xs)

    def at(q: float) -> float:
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return at(0.25), at(0.75)


def _log_values(
    accounts: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], name: str
) -> list[float]:
    """Feature ``name`` of each account on the log1p scale (missing or negative as 0)."""
    return [math.log1p(max(float(by_id[a].get(name) or 0.0), 0.0)) for a in accounts]


def _log_gap(
    group: Sequence[str], rest: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], name: str
) -> float:
    """The gap between the ranges of ``name`` in two groups (log1p scale; negative when the
    ranges overlap)."""
    g, r = _log_values(group, by_id, name), _log_values(rest, by_id, name)
    if not g or not r:
        return -math.inf
    return max(min(r) - max(g), min(g) - max(r))


def separable(n: int, m: int) -> bool:
    """Whether groups of ``n`` and ``m`` accounts are large enough to be told apart by one
    feature (:data:`MAX_SEPARATION_CHANCE`)."""
    return n > 0 and m > 0 and 2.0 / math.comb(n + m, m) <= MAX_SEPARATION_CHANCE


#: :func:`hours_apart`: accounts whose requests' times of day are at least this
#: concentrated (``hour_focus``) and that sent at least ``HOURS_MIN_EVENTS`` requests have a
#: working time of day; two parts work different hours when their ``hour_center`` ranges
#: (interquartile) are disjoint and their medians at least ``HOURS_MIN_GAP`` hours apart.
HOURS_MIN_FOCUS = 0.3
HOURS_MIN_EVENTS = 5
HOURS_MIN_GAP = 3.0


def _circular_mean(hours: Sequence[float]) -> float:
    s = sum(math.sin(h * math.pi / 12.0) for h in hours)
    c = sum(math.cos(h * math.pi / 12.0) for h in hours)
    return (math.degrees(math.atan2(s, c)) / 15.0) % 24.0


def hours_apart(
    group: Sequence[str], rest: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether ``group`` and ``rest`` work different hours of the day (UTC).

    An operator runs its accounts in its own working day, whatever tasks it gives them;
    two operators in time zones hours apart do not. Only accounts with a time of day count
    (:data:`HOURS_MIN_FOCUS`, :data:`HOURS_MIN_EVENTS`: a 24/7 or machine-paced account
    has none), and they must be at least half of each part and large enough to tell apart
    (:func:`separable`). The hours are compared on the circle: the clock is cut opposite the
    midpoint of the two parts' circular means, then the interquartile ranges must be
    disjoint and the medians :data:`HOURS_MIN_GAP` hours apart.
    """

    def hours(accounts: Sequence[str]) -> list[float]:
        out = []
        for a in accounts:
            row = by_id[a]
            center, focus = row.get("hour_center"), row.get("hour_focus")
            if center is None or focus is None or float(focus) < HOURS_MIN_FOCUS:
                continue
            if float(row.get("n_events") or 0) >= HOURS_MIN_EVENTS:
                out.append(float(center) % 24.0)
        return out

    g, r = hours(group), hours(rest)
    if 2 * len(g) < len(group) or 2 * len(r) < len(rest) or not separable(len(g), len(r)):
        return False
    mg, mr = _circular_mean(g), _circular_mean(r)
    gap = (mr - mg) % 24.0
    mid = mg + gap / 2.0 if gap <= 12.0 else mr + (24.0 - gap) / 2.0
    cut = mid + 12.0
    g2, r2 = [(h - cut) % 24.0 for h in g], [(h - cut) % 24.0 for h in r]
    g1, g3 = _quartiles(g2)
    r1, r3 = _quartiles(r2)
    return (r3 < g1 or r1 > g3) and abs(median(g2) - median(r2)) >= HOURS_MIN_GAP


def operational_differences(
    group: Sequence[str], rest: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Operational features on which ``rest`` and ``group`` have disjoint interquartile ranges
    and medians at least twofold apart."""
    out: list[str] = []
    for name in OPERATIONAL:
        g, r = _log_values(group, by_id, name), _log_values(rest, by_id, name)
        if not g or not r:
            continue
        g1, g3 = _quartiles(g)
        r1, r3 = _quartiles(r)
        if (r3 < g1 or r1 > g3) and abs(median(g) - median(r)) >= MIN_LOG_RATIO:
            out.append(name)
    return out


#: :func:`paces_apart`: only accounts with at least this many requests have a pace (the
#: spread of the gaps between two or three requests says nothing).
PACE_MIN_EVENTS = 8


def paces_apart(
    group: Sequence[str], rest: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether ``group`` and ``rest`` send at a different pace: one part's scheduler spaces
    its requests regularly, the other's come in bursts (``iat_cv``, the coefficient of
    variation of the gaps between an account's requests).

    An operator runs its accounts with one scheduler, whatever tasks it gives them; a fleet
    sending every few minutes like clockwork (``iat_cv`` 0.2) and one sending in human-like
    bursts (``iat_cv`` 1.8) are two operations that content alone tied together. Only
    accounts with :data:`PACE_MIN_EVENTS` requests count; they must be at least half of
    each part and enough to tell apart (:func:`separable`); the interquartile ranges must
    be disjoint and the medians at least twofold apart (the raw ratio, not log1p: the
    feature is a ratio already, and a Poisson process sits at 1).
    """

    def paces(accounts: Sequence[str]) -> list[float]:
        out = []
        for a in accounts:
            row = by_id[a]
            cv = row.get("iat_cv")
            if cv is not None and float(row.get("n_events") or 0) >= PACE_MIN_EVENTS:
                out.append(max(float(cv), 1e-6))
        return out

    g, r = paces(group), paces(rest)
    if 2 * len(g) < len(group) or 2 * len(r) < len(rest) or not separable(len(g), len(r)):
        return False
    g1, g3 = _quartiles(g)
    r1, r3 = _quartiles(r)
    return (r3 < g1 or r1 > g3) and abs(math.log(median(g) / median(r))) >= MIN_LOG_RATIO


def operator_differences(
    group: Sequence[str], rest: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """:func:`operational_differences`, ``"iat_cv"`` when the two parts send at a different
    pace (:func:`paces_apart`), and ``"hour_center"`` when they work other hours of the day
    (:func:`hours_apart`). Both are an operator's own differences; the splits take other
    hours as enough on its own (one operation gives its accounts different jobs, not
    different time zones), a different pace as one difference among those they need."""
    differ = operational_differences(group, rest, by_id)
    if paces_apart(group, rest, by_id):
        differ.append("iat_cv")
    if hours_apart(group, rest, by_id):
        differ.append("hour_center")
    return differ


@dataclass(frozen=True, slots=True)
class FamilyUsage:
    """Who sends through which template family.

    Attributes:
        by_account: content users (≥ ``attach_min_content`` distillation content, mostly new
            prompts) -> {family id: requests in it}.
        users: family id -> every account that sent a request in it.
    """

    by_account: dict[str, dict[int, int]] = field(default_factory=dict)
    users: dict[int, int] = field(default_factory=dict)


def _share(row: Mapping[str, Any]) -> float:
    return float(row.get("distill_share") or 0.0)


def requests_of(members: Iterable[str], by_id: Mapping[str, Mapping[str, Any]]) -> int:
    """Requests sent by ``members`` (their ``n_events`` summed)."""
    return sum(int(by_id[a].get("n_events") or 0) for a in members)


def distill_share_of(members: Iterable[str], by_id: Mapping[str, Mapping[str, Any]]) -> float:
    """Share of ``members``' requests carrying distillation content (0.0 without requests)."""
    n = content = 0.0
    for a in members:
        row = by_id[a]
        k = float(row.get("n_events") or 0)
        n += k
        content += k * _share(row)
    return content / n if n > 0 else 0.0


def content_gate(
    members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], rel: float
) -> float:
    """Smallest ``distill_share`` a member of this group must have (0.0: no text, no gate).

    ``rel`` times the larger of the members' median share and their request-weighted median
    share: two developers whose coding prompts share a wrapper with a two-account capability
    sweep are half the group by count but a tenth of its requests, and the group is what
    most of its requests are.
    """
    if not members or rel <= 0:
        return 0.0
    return rel * _weighted_median(
        [(_share(by_id[a]), float(by_id[a].get("n_events") or 0)) for a in members]
    )


def share_fits(n: float, share: float, gate: float, alpha: float) -> bool:
    """Whether ``share`` of an account's ``n`` requests meets a content ``gate``, allowing for
    how few requests it measured.

    True when ``share >= gate``, or when ``alpha`` > 0 and the account's hits are not
    significantly fewer than an account carrying content at the gate's rate would send:
    the binomial probability of at most ``round(share * n)`` hits in ``n`` requests at rate
    ``gate`` is at least ``alpha``. Three of five (0.6) against a gate of 0.74 is what such
    an account sends four times in ten; three of ten, one time in two hundred.
    """
    if share >= gate:
        return True
    if alpha <= 0 or n < 1 or gate <= 0:
        return False
    # Imported here: scipy.special takes ~0.15 s to import, and only a thin account short
    # of the gate needs it (the detect modules are imported by every scan).
    from scipy.special import bdtr

    n_req = int(round(n))
    hits = min(int(round(share * n_req)), n_req)
    return float(bdtr(hits, n_req, gate)) >= alpha


def _lower_quartile(values: list[float]) -> float:
    """The lower quartile of ``values`` (the value a quarter of the way up; inf if empty)."""
    if not values:
        return math.inf
    values = sorted(values)
    return values[(len(values) - 1) // 4]


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    """The larger of the plain and the weight-weighted median of (value, weight) pairs."""
    pairs = sorted(pairs)
    median = pairs[len(pairs) // 2][0]
    half = sum(w for _, w in pairs) / 2
    seen = 0.0
    for value, w in pairs:
        seen += w
        if half > 0 and seen >= half:
            return max(median, value)
    return median


def repeat_gate(
    members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]], limit: float
) -> float:
    """Share of repeated prompts (``dup_prompt_share``) an established member of this group
    must stay below: ``limit`` when the members repeat less than half of it (the larger of
    their median and request-weighted median share, as :func:`content_gate`), else no gate
    (above 1). :func:`~distillguard.detect.campaigns.decide` applies it to established
    accounts only (verified, ``established_min_age_days`` old): a young prober cycling
    through a short list of attacks repeats its prompts too.

    A campaign that harvests sends each prompt once; an evaluation harness re-runs its
    benchmark. When the harness sweeps the public benchmark a campaign harvests, its
    content and signal profile tie it to the campaign, and only its repeats tell it apart.
    A campaign that itself re-sends its prompts (a periodic capability sweep, heavy accounts
    sampling the same prompt again) has no gate.
    """
    if not members or limit <= 0:
        return 1.01
    pairs = [
        (float(by_id[a].get("dup_prompt_share") or 0.0), float(by_id[a].get("n_events") or 0))
        for a in members
    ]
    return limit if _weighted_median(pairs) < 0.5 * limit else 1.01


def _own_mix(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    n = float(row.get("n_events") or 0)
    return [
        (k, n * float(v))
        for k, v in row.items()
        if k.startswith("sig_") and k.endswith("_share") and v
    ]


class FeatureRows(dict[str, Mapping[str, Any]]):
    """``account_features`` rows by account that remember each account's own signal mix.

    The membership steps ask for the mix of the same accounts hundreds of thousands of times
    at 10 M events (a fifth of the verdict stage went into re-reading each row's ~60
    features); :func:`signal_mix` reads it once per account from here.
    """

    __slots__ = ("_mixes",)

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__(rows)
        self._mixes: dict[str, list[tuple[str, float]]] = {}

    def mix_of(self, account: str) -> list[tuple[str, float]]:
        """``account``'s own (signal, requests) pairs, in its row's column order."""
        mix = self._mixes.get(account)
        if mix is None:
            mix = self._mixes[account] = _own_mix(self[account])
        return mix


def signal_mix(members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Requests per distillation signal (``sig_*_share`` × ``n_events``) summed over members:
    their content mix."""
    out: dict[str, float] = defaultdict(float)
    mix_of = by_id.mix_of if isinstance(by_id, FeatureRows) else (lambda a: _own_mix(by_id[a]))
    for a in members:
        for k, v in mix_of(a):
            out[k] += v
    return dict(out)


def profile_gate(
    members: Sequence[str],
    core: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    min_similarity: float,
) -> list[str]:
    """Members whose distillation content is mostly the core's own tactics (all without text)."""
    ref = _tactics(core, by_id)
    if not ref or min_similarity <= 0:
        return list(members)
    out = []
    for a in members:
        mine = signal_mix([a], by_id)
        if not mine or _coverage(mine, ref) >= min_similarity:
            out.append(a)
    return out


#: Smoothing of :func:`content_log_ratio`: requests of a signal added to the campaign's mix
#: (so a signal it never used is rare, not impossible), and requests of the campaign's own mix
#: added to the crowd's (so a crowd with little content says little either way).
CAMPAIGN_PSEUDO = 0.5
CROWD_PSEUDO = 1.0

#: Content ties an account to a campaign unless it is at least twice as typical of the crowd
#: (:func:`content_log_ratio` below ``-log 2``): a campaign whose tactics are the crowd's own
#: (a capability sweep among developers) keeps its tiny members, which are indistinguishable.
NOT_CROWD = -math.log(2.0)

#: ... and it is plainly the campaign's when it is at least 2.5 times as typical of the
#: campaign as of the crowd: only then is a thin account's short content share put down to
#: chance (``attach_content_alpha``). A developer whose coding prompts read as a capability
#: sweep sends what the crowd sends, and 8 of 12 of them is its own rate, not a sweep's at
#: chance. (The smoothing alone gives up to twice: a crowd with next to no content of the
#: account's kind, a reseller's, says little, and a customer of it sending two sweep-like
#: prompts of four scored exactly log 2 at held-out reseller-chase, scale 0.25.)
CAMPAIGN_LIKE = math.log(2.5)

#: ... and beyond doubt at ten times: what a thin account tied to a campaign only by a card
#: that the campaign's strangers share too (a reseller's, which every customer pays with)
#: must send to be put down to the campaign rather than to chance. An extractor's prompts
#: score above log 300 against a reseller's crowd; a customer's coding prompt against a
#: sweep's, log 3.5.
CARD_LIKE = math.log(10.0)


def content_log_ratio(
    mine: Mapping[str, float], campaign: Mapping[str, float], crowd: Mapping[str, float]
) -> float:
    """Mean log-likelihood ratio per request of an account's content: campaign vs crowd.

    ``mine``, ``campaign`` and ``crowd`` are signal mixes (:func:`signal_mix`: requests per
    signal). Positive when the account's requests are more typical of the campaign's members
    than of the other accounts that send distillation-like content; 0.0 when it has none or
    when the crowd is empty (no evidence either way). A tiny account whose prompts are all of
    the kind the crowd sends most (coding requests that read as a capability sweep) is not
    tied to a campaign by that content, even when the campaign also sweeps capabilities.
    """
    total = sum(mine.values())
    if total <= 0 or sum(crowd.values()) <= 0:
        return 0.0
    keys = set(mine) | set(campaign) | set(crowd)
    tc = sum(campaign.values()) + CAMPAIGN_PSEUDO * len(keys)
    tb = sum(crowd.values()) + CROWD_PSEUDO
    out = 0.0
    for k, v in mine.items():
        p = (campaign.get(k, 0.0) + CAMPAIGN_PSEUDO) / tc
        q = (crowd.get(k, 0.0) + CROWD_PSEUDO * p) / tb
        out += v * math.log(p / q)
    return out / total


def _tactics(members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The group's own tactics: signals making up ≥ 10 % of the mix of ≥ 20 % of members
    (a handful of outsiders pulled in by weak edges do not make their content the group's)."""
    count: Counter[str] = Counter()
    for a in members:
        mine = signal_mix([a], by_id)
        total = sum(mine.values())
        count.update(k for k, v in mine.items() if total > 0 and v >= 0.1 * total)
    return {k for k, n in count.items() if n >= 0.2 * len(members)}


def _coverage(mine: Mapping[str, float], tactics: set[str]) -> float:
    """Share of an account's distillation signals that are among the group's tactics. Robust
    for accounts with a handful of requests, whose mix is noisy but whose tactics are not."""
    total = sum(mine.values())
    if total <= 0:
        return 0.0
    return sum(v for k, v in mine.items() if k in tactics) / total


def network_groups(members: Sequence[str], asns: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """Member -> its network group's root (members sharing an ASN, transitively, one group)."""
    sets: DisjointSets[str] = DisjointSets()
    for a in members:
        for asn in asns.get(a, ()):
            sets.union(a, f"asn:{asn}")
    return {a: sets.find(a) for a in members}


def _tied_to(group: Sequence[str], rest: Sequence[str], pairs: Any) -> set[str]:
    """Members of ``rest`` with an identity tie to ``group`` (``pairs``: (a, b) tuples or a
    table with columns ``a`` and ``b``, as :data:`distillguard.detect.operators.PairsOf`
    gives)."""
    if hasattr(pairs, "column"):
        pairs = zip(pairs.column("a").to_pylist(), pairs.column("b").to_pylist(), strict=True)
    inside, outside = set(group), set(rest)
    tied: set[str] = set()
    for a, b in pairs:
        if a in inside and b in outside:
            tied.add(b)
        elif b in inside and a in outside:
            tied.add(a)
    return tied


def split_by_network(
    pending: list[Pending],
    asns: Mapping[str, frozenset[str]],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
    pairs_of: Any = None,
) -> int:
    """Split off members that sit on networks the campaign's main group never uses (in place).

    ``pairs_of`` (members -> their identity ties, :data:`distillguard.detect.operators.
    PairsOf`) keeps together parts tied by payment instruments, IPs or creation bursts.

    Returns the number of campaigns split off.
    """
    split = 0
    for idx in range(len(pending)):
        neg_vol, comm, members, risk = pending[idx]
        root = network_groups(members, asns)
        comp = Counter(root.values())
        if not comp:
            continue
        main, size = comp.most_common(1)[0]
        rest = [a for a in members if root[a] != main and asns.get(a)]
        if size < cfg.network_split_main * len(members) or len(rest) < max(
            cfg.min_campaign_accounts, cfg.network_split_rest * len(members)
        ):
            continue
        # Other networks alone are not another operation: one fleet with a sticky IP per
        # account over a handful of datacenter networks falls apart by network. The rest
        # must also run unlike the main group (a residential slow-and-low fleet of aged,
        # one-IP accounts beside a datacenter hydra of fresh, rotating ones).
        group = [a for a in members if root.get(a) == main]
        if not separable(len(group), len(rest)):
            # The parts are grouped by network alone, and nothing else yet says they are
            # two operations: too few accounts to tell them apart by how they run.
            continue
        differ = operational_differences(group, rest, by_id)
        # Inside one operation account age goes with the network: an operator that buys
        # proxies batch by batch with its accounts shows new networks exactly for its newer
        # accounts, and the two parts' ages then run into each other. Age is a difference
        # here only across a gap (the ages of the two parts at least twofold apart).
        if "account_age_days" in differ and _log_gap(group, rest, by_id, "account_age_days") < (
            MIN_LOG_RATIO
        ):
            differ.remove("account_age_days")
        if len(differ) < cfg.network_split_min_features:
            continue
        # One operator's cards and sign-up bursts span both parts: one operation on several
        # networks (a fleet of aged accounts, a sticky datacenter IP each, two cards).
        if pairs_of is not None and len(_tied_to(group, rest, pairs_of(members))) > (
            cfg.network_split_max_tied * len(rest)
        ):
            continue
        if split_off(pending, idx, rest, by_id, scores, cfg, -1000) is not None:
            split += 1
    return split


def split_off(
    pending: list[Pending],
    idx: int,
    rest: Sequence[str],
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
    comm_base: int,
) -> int | None:
    """Make ``rest`` a campaign of its own when it scores as one (in place).

    The members of ``pending[idx]`` outside ``rest`` keep its community and risk; the new
    campaign gets the community id ``comm_base - len(pending)``, which is returned (None:
    ``rest`` does not score as a campaign and nothing changes).
    """
    cs = score_community([by_id[a] for a in rest], [scores[a] for a in rest], 1.0, 0.0)
    vol = requests_of(rest, by_id)
    if cs.risk < cfg.campaign_threshold or vol < cfg.min_campaign_events:
        return None
    neg_vol, comm, members, risk = pending[idx]
    pending[idx] = (neg_vol + vol, comm, sorted(set(members) - set(rest)), risk)
    new_comm = comm_base - len(pending)
    pending.append((-float(vol), new_comm, sorted(rest), cs.risk))
    return new_comm


def age_range(
    members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]
) -> tuple[float, float] | None:
    """The members' account ages (log1p days), lowest and highest; None when unknown."""
    ages = [
        _log1p(by_id[a], "account_age_days") for a in members if _has(by_id[a], "account_age_days")
    ]
    return (min(ages), max(ages)) if ages else None


def age_fits(row: Mapping[str, Any], span: tuple[float, float] | None) -> bool:
    """The account's age is not clearly outside ``span`` (twofold beyond it, log1p scale)."""
    if span is None or not _has(row, "account_age_days"):
        return True
    age = _log1p(row, "account_age_days")
    return span[0] - MIN_LOG_RATIO <= age <= span[1] + MIN_LOG_RATIO


def _has(row: Mapping[str, Any], name: str) -> bool:
    v = row.get(name)
    return v is not None and v == v


def attach_by_family(
    pending: list[Pending],
    usage: FamilyUsage,
    by_id: Mapping[str, Mapping[str, Any]],
    excluded: Mapping[str, Any],
    cfg: DetectConfig,
    networks: Mapping[str, frozenset[str]] | None = None,
    targets: Collection[int] | None = None,
) -> dict[str, str]:
    """Add accounts that speak through a campaign's claimed wrapper families (in place).

    Args:
        pending: candidate campaigns, extended in place.
        usage: content users per family and every family's user count; a family is claimed
            when the campaign's members are ≥ ``family_claim_share`` of ALL its users (a
            popular template used by thousands is nobody's wrapper).
        by_id: account_features rows by account.
        excluded: accounts never attached (allow-listed).
        cfg: thresholds.
        networks: account -> ASNs; an account joins the claiming campaign that shares a
            network with it when there is one (same wrappers, different operators).
        targets: indexes in ``pending`` of the campaigns accounts may join (None: all).

    Returns:
        attached account -> why it joined, in words (for its reasons).
    """
    attached: dict[str, str] = {}
    by_family = "sends through template families used mostly by this campaign's members"
    by_network = (
        "sends this campaign's kind of distillation content from a network its members dominate"
    )
    rounds = max(int(cfg.family_attach_rounds), 0)
    if not usage.by_account or rounds == 0 or not pending:
        return attached
    claim = float(cfg.family_claim_share)
    nets = networks or {}
    joinable = range(len(pending)) if targets is None else sorted(targets)
    for _ in range(rounds):
        owner = {a: i for i, p in enumerate(pending) for a in p[2]}
        users: dict[int, Counter[int]] = defaultdict(Counter)
        for a, fams in usage.by_account.items():
            if a in owner:
                for f in fams:
                    if f >= 0:
                        users[f][owner[a]] += 1
        claimed: dict[int, set[int]] = defaultdict(set)
        owned: dict[int, set[int]] = defaultdict(set)  # most of its users are the campaign's
        for f, cnt in users.items():
            total = max(usage.users.get(f, 0), sum(cnt.values()))
            for idx, n in cnt.items():
                if n >= 2 and n >= claim * total:
                    claimed[f].add(idx)
                if n >= 2 and n > 0.5 * total:
                    owned[f].add(idx)
        camp_nets = [frozenset().union(*(nets.get(a, frozenset()) for a in p[2])) for p in pending]
        gates = [content_gate(p[2], by_id, cfg.member_relative_content) for p in pending]
        profiles = [_tactics(p[2], by_id) for p in pending]
        mixes = [signal_mix(p[2], by_id) for p in pending]
        crowd = signal_mix([a for a in usage.by_account if a in by_id and a not in owner], by_id)
        ages = [age_range(p[2], by_id) for p in pending]
        # A fleet of thin accounts (a quarter of its members send no more than
        # family_attach_min_requests) is one whose one-request accounts are its own.
        min_req = cfg.family_attach_min_requests
        thin = [
            _lower_quartile([float(by_id[a].get("n_events") or 0) for a in p[2]]) <= min_req
            for p in pending
        ]
        # A network is a weaker tie than a wrapper: own content as strong as the median member's.
        medians = [content_gate(p[2], by_id, 1.0) for p in pending]

        def looks_like(
            a: str, i: int, medians: list[float] = medians, profiles: list[set[str]] = profiles
        ) -> bool:
            return _share(by_id[a]) >= medians[i] and (
                _coverage(signal_mix([a], by_id), profiles[i]) >= cfg.profile_min_similarity
            )

        # Networks a campaign dominates among the accounts whose content looks like its
        # members' (a ratio that does not grow with the population, unlike raw counts).
        on_net: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for a in usage.by_account:
            if a not in by_id or a in excluded:
                continue
            for i in joinable:
                if owner.get(a) == i or looks_like(a, i):
                    for asn in nets.get(a, ()):
                        on_net[(asn, i)][0 if owner.get(a) == i else 1] += 1
        net_claim = {
            key
            for key, (m, other) in on_net.items()
            if m >= 2 and m >= cfg.network_claim_share * (m + other)
        }
        added: dict[int, list[str]] = defaultdict(list)
        how: dict[str, str] = {}
        for a, fams in usage.by_account.items():
            if a in owner or a in excluded or a not in by_id:
                continue
            n = int(by_id[a].get("n_events") or 0)
            per: Counter[int] = Counter()
            own: Counter[int] = Counter()
            for f, k in fams.items():
                for idx in claimed.get(f, ()):
                    per[idx] += k
                for idx in owned.get(f, ()):
                    own[idx] += k
            need = max(cfg.family_crowd_min_share * n, float(cfg.family_attach_min_requests))
            mine = nets.get(a, frozenset())
            # A family mostly the campaign's is its wrapper; one it merely claims (a popular
            # template a large campaign happens to be a fifth of) also needs a shared network.
            # In a family it owns, fewer requests do (one, by default: the accounts of a
            # slow-and-low fleet that sent a handful of prompts each).
            few = max(cfg.family_crowd_min_share * n, float(cfg.family_owned_min_requests))
            ok = [
                i
                for i, k in per.items()
                if i in joinable
                and (k >= need or own[i] >= few)
                and _share(by_id[a]) >= gates[i]
                and (own[i] >= few or not mine or not camp_nets[i] or bool(mine & camp_nets[i]))
            ]
            how[a] = by_family
            if not ok and n >= 1 and cfg.profile_min_similarity < 1:
                # Same network the campaign dominates, same mix of distillation content, and
                # an account of the campaign's age (a developer of 500 days whose few coding
                # prompts read as a sweep is not one of a hydra's two-day-old accounts).
                # Below family_attach_min_requests (one grading prompt from a rotating mobile
                # fleet's two-day account) only a fleet of thin accounts takes it, and its
                # content must be plainly the campaign's, not merely not the crowd's: one
                # coding prompt of a new developer on a sweep hydra's carrier is the crowd's
                # own, and one prompt misread as grading beside a fleet of 25-request graders
                # is not one of theirs.
                few_requests = n < min_req
                least = CAMPAIGN_LIKE if few_requests else NOT_CROWD
                ok = [
                    i
                    for i in joinable
                    if (thin[i] or not few_requests)
                    and any((asn, i) in net_claim for asn in nets.get(a, ()))
                    and looks_like(a, i)
                    and content_log_ratio(signal_mix([a], by_id), mixes[i], crowd) >= least
                    and age_fits(by_id[a], ages[i])
                ]
                how[a] = by_network
            if not ok:
                continue
            idx = max(ok, key=lambda i: (bool(mine & camp_nets[i]), per[i], -i))
            added[idx].append(a)
        if not added:
            break
        for idx, accs in added.items():
            neg_vol, comm, members, risk = pending[idx]
            vol = requests_of(accs, by_id)
            pending[idx] = (neg_vol - vol, comm, sorted({*members, *accs}), risk)
            for a in accs:
                attached[a] = how[a]
    return attached


def account_networks(con: Any, events: str = "ev") -> dict[str, frozenset[str]]:
    """account_id -> the ASNs it sent from (accounts without an ASN are left out)."""
    rows = con.execute(
        f"SELECT account_id, list(DISTINCT CAST(client_asn AS VARCHAR)) FROM {events} "  # noqa: S608
        "WHERE client_asn IS NOT NULL GROUP BY 1"
    ).fetchall()
    return {str(a): frozenset(str(x) for x in xs) for a, xs in rows}


def family_usage(
    con: Any, cfg: DetectConfig, events: str = "ev", sig_cols: Sequence[str] = ()
) -> FamilyUsage:
    """Content users -> {template family: requests} (accounts with ≥ ``attach_min_content``
    distillation content and fewer than half repeated prompts), and every family's number of
    users. Empty without text."""
    if not sig_cols:
        return FamilyUsage()
    have = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name IN "
            "('prompt_signals', 'account_features')"
        ).fetchall()
    }
    if len(have) < 2:
        return FamilyUsage()
    rows = con.execute(
        f"""SELECT e.account_id, p.family_id, count(*) FROM {events} e
        JOIN prompt_signals p ON p.prompt_digest = e.prompt_digest
        JOIN account_features a ON a.account_id = e.account_id
        WHERE coalesce(a.distill_share, 0) >= {float(cfg.attach_min_content)}
          AND coalesce(a.dup_prompt_share, 0) < 0.5
        GROUP BY 1, 2"""  # noqa: S608
    ).fetchall()
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for a, f, n in rows:
        out[str(a)][int(f)] = int(n)
    users = con.execute(
        f"SELECT p.family_id, count(DISTINCT e.account_id) FROM {events} e "  # noqa: S608
        "JOIN prompt_signals p ON p.prompt_digest = e.prompt_digest "
        "WHERE p.family_id >= 0 GROUP BY 1"
    ).fetchall()
    return FamilyUsage(dict(out), {int(f): int(n) for f, n in users})


def _log1p(row: Mapping[str, Any], name: str) -> float:
    v = row.get(name)
    return math.log1p(max(float(v), 0.0)) if v is not None and v == v else 0.0


def _operations(members: Sequence[str], by_id: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """The members' median of each :data:`OPERATIONAL` feature (log1p scale)."""
    out = []
    for name in OPERATIONAL:
        vals = sorted(_log1p(by_id[a], name) for a in members)
        out.append(vals[len(vals) // 2] if vals else 0.0)
    return out


def _operational_distance(row: Mapping[str, Any], ops: Sequence[float]) -> float:
    return sum(abs(_log1p(row, name) - m) for name, m in zip(OPERATIONAL, ops, strict=True))


#: Share of its campaign's prompt pool a quiet member's prompts must be (:func:`prompt_pool`)
#: for its repeats not to count against it, and the fewest distinct prompts that share is
#: measured on.
POOL_MIN_SHARE = 0.9
POOL_MIN_PROMPTS = 10
#: A prompt is the campaign's pool's when at least this many of its members sent it: a pool
#: is drawn on by the fleet, while the two evaluation harnesses reported with round-clock's
#: campaign at full scale send their own benchmark (with any one member's prompts as the
#: pool, they brought in three more harnesses running the same 500 prompts). A share of
#: the members instead (a twentieth) lost the capability sweep's heavy accounts, whose
#: prompts a tenth of the time had only six to eight senders among 357 members.
POOL_MIN_SENDERS = 3

#: (candidates, members) -> for each candidate with at least :data:`POOL_MIN_PROMPTS`
#: distinct prompts, the share of them that :data:`POOL_MIN_SENDERS` members sent too.
PoolShare = Callable[[Sequence[str], Sequence[str]], dict[str, float]]


def prompt_pool(con: Any, events: str = "ev") -> PoolShare:
    """A :data:`PoolShare` over the exact prompts (``prompt_digest``) in ``events``.

    A campaign renders a pool of prompts and its accounts draw from it: its heavy accounts
    send the same prompts again (a capability sweep cycling through a few hundred agentic
    tasks repeats 60–85 % of its requests), and nearly every prompt they send, a lighter
    member sent too. An evaluation harness repeats its own benchmark, in its own format; a
    developer's coding prompts are its own. Exact prompts shared with a campaign's members
    are the pool's, which no wrapper family or signal profile tells apart from the crowd's.
    A prompt is the pool's when :data:`POOL_MIN_SENDERS` members sent it.
    """

    def share(candidates: Sequence[str], members: Sequence[str]) -> dict[str, float]:
        if not candidates or not members:
            return {}
        con.register("_pool_cands", pa.table({"account_id": [str(a) for a in candidates]}))
        con.register("_pool_members", pa.table({"account_id": [str(a) for a in members]}))
        try:
            rows = con.execute(
                f"""WITH c AS (
                      SELECT DISTINCT account_id, prompt_digest FROM {events}
                      WHERE prompt_digest IS NOT NULL
                        AND account_id IN (SELECT account_id FROM _pool_cands)),
                    m AS (
                      SELECT prompt_digest FROM {events}
                      WHERE prompt_digest IS NOT NULL
                        AND account_id IN (SELECT account_id FROM _pool_members)
                        AND account_id NOT IN (SELECT account_id FROM _pool_cands)
                      GROUP BY prompt_digest HAVING count(DISTINCT account_id) >= ?)
                    SELECT account_id, count(*) AS n,
                           count(*) FILTER (WHERE prompt_digest IN (SELECT prompt_digest FROM m))
                    FROM c GROUP BY account_id""",  # noqa: S608 - table name from the caller
                [POOL_MIN_SENDERS],
            ).fetchall()
        finally:
            con.unregister("_pool_cands")
            con.unregister("_pool_members")
        return {str(a): int(k) / int(n) for a, n, k in rows if int(n) >= POOL_MIN_PROMPTS}

    return share


def admit_quiet_members(
    pending: list[Pending],
    quiet: Mapping[int, Sequence[str]],
    communities: Mapping[str, tuple[int, bool]],
    by_id: Mapping[str, Mapping[str, Any]],
    content_users: Sequence[str],
    cfg: DetectConfig,
    split_off_ops: Iterable[int],
    pool: PoolShare | None = None,
) -> dict[str, str]:
    """Give an operation split off its community the quiet members the other one gated out
    (in place).

    A community's member gate is set by its clearly risky accounts (``member_relative_risk``
    × their median risk). When the community holds two operations (a datacenter hydra and a
    slow-and-low fleet on residential networks), the hydra's anchors set that gate, and every
    fleet account with too few requests to score high on its own (four to sixteen) is left
    out; the network or operator split then makes the fleet's riskier accounts a campaign of
    their own, whose gate its quiet members never met. A core member of that community (risk
    ≥ ``quiet_min_risk``) joins such a split-off campaign when what it sent is plainly the
    campaign's content: at least the campaign's content gate, at least
    ``profile_min_similarity`` of it the campaign's tactics, fewer than half of it repeated
    prompts, and a :func:`content_log_ratio` against the crowd (the other accounts sending
    distillation-like content) of at least ``quiet_min_log_ratio`` (the default, −log 2,
    keeps out content twice as typical of the crowd as of the campaign). When it fits
    more than one, it joins the one whose members operate most like it (the medians of
    :data:`OPERATIONAL`, log scale). A campaign that is its community's own operation takes
    them only when their content is plainly its own (:data:`CAMPAIGN_LIKE`, 2.5 times as
    typical of it as of the crowd): there, the gated-out core members are mostly the crowd
    it hides in (developers whose coding prompts read as a sweep), but a grading fleet's
    accounts of four to eight requests send what no crowd does.

    A member that repeats its prompts, or whose content is as typical of the crowd as of
    the campaign (a capability sweep's coding tasks read like developers' prompts), still
    joins when at least :data:`POOL_MIN_SHARE` of its distinct prompts (at least
    :data:`POOL_MIN_PROMPTS`) are ones :data:`POOL_MIN_SENDERS` of the campaign's members
    sent too (``pool``, :func:`prompt_pool`) and its content is not clearly the crowd's
    (``quiet_min_log_ratio``): it draws from the campaign's prompt pool. (Twenty-one of a
    capability-sweep fleet's heaviest accounts, 126–837 requests each, 58–85 % of them
    repeats, scored 0.10–0.45 and were left out; 97–100 % of their distinct prompts were
    the fleet's.)

    Args:
        pending: candidate campaigns, extended in place.
        quiet: community -> its core members below the community's member gate (not
            allow-listed, risk ≥ ``quiet_min_risk``).
        communities: account -> (community, core).
        by_id: account_features rows by account.
        content_users: accounts that send distillation-like content (the crowd).
        cfg: thresholds.
        split_off_ops: indexes in ``pending`` of the campaigns the network and operator
            splits made.
        pool: exact prompts shared with a campaign's members (:func:`prompt_pool`); without
            it, repeats and crowd-like content keep a member out.

    Returns:
        admitted account -> why it joined, in words (for its reasons).
    """
    notes: dict[str, str] = {}
    split_off_ops = set(split_off_ops)
    # A community's own campaign takes a quiet core member only when what it sent is plainly
    # the campaign's (CAMPAIGN_LIKE), not merely not the crowd's.
    own_ops = (
        {i for i, p in enumerate(pending) if p[1] in quiet and i not in split_off_ops}
        if cfg.quiet_min_log_ratio < CAMPAIGN_LIKE
        else set()
    )
    if not quiet or not (split_off_ops or own_ops):
        return notes
    owner = {a for p in pending for a in p[2]}
    crowd = signal_mix([a for a in content_users if a in by_id and a not in owner], by_id)
    # Only these campaigns take quiet members: their profiles alone are computed.
    split = sorted(split_off_ops | own_ops)
    sources = {i: {communities.get(a, (-1, False))[0] for a in pending[i][2]} for i in split}
    least = {i: CAMPAIGN_LIKE if i in own_ops else cfg.quiet_min_log_ratio for i in split}
    mixes = {i: signal_mix(pending[i][2], by_id) for i in split}
    tactics = {i: _tactics(pending[i][2], by_id) for i in split}
    gates = {i: content_gate(pending[i][2], by_id, cfg.member_relative_content) for i in split}
    ops = {i: _operations(pending[i][2], by_id) for i in split}
    note = "sends only this campaign's kind of distillation content, at the core of its community"
    pool_note = "sends this campaign's own prompts, at the core of its community"
    added: dict[int, list[str]] = defaultdict(list)
    # Members that fit a campaign only if they draw from its prompt pool: campaign -> them.
    to_pool: dict[int, list[str]] = defaultdict(list)
    for comm, accounts in sorted(quiet.items()):
        near = [i for i in split if comm in sources[i]]
        for a in accounts:
            row = by_id[a]
            n_events = int(row.get("n_events") or 0)
            if a in owner or n_events < cfg.family_attach_min_requests:
                continue
            repeats = float(row.get("dup_prompt_share") or 0.0) >= 0.5
            mine = signal_mix([a], by_id)
            fits = []
            for i in near:
                if _share(row) < gates[i]:
                    continue
                if _coverage(mine, tactics[i]) < cfg.profile_min_similarity:
                    continue
                ratio = content_log_ratio(mine, mixes[i], crowd)
                if not repeats and ratio >= least[i]:
                    fits.append(i)
                elif (
                    pool is not None
                    and n_events >= POOL_MIN_PROMPTS
                    and ratio >= cfg.quiet_min_log_ratio
                ):
                    to_pool[i].append(a)
            if fits:
                # Two operations in one community (a hydra and a slow-and-low fleet running
                # the same wrappers): it joins the one it operates most like.
                idx = min(fits, key=lambda i: (_operational_distance(row, ops[i]), i))
                added[idx].append(a)
                notes[a] = note
    if pool is not None and to_pool:
        pooled: dict[str, list[int]] = defaultdict(list)
        for i, accs in sorted(to_pool.items()):
            shares = pool([a for a in accs if a not in notes], pending[i][2])
            for a, got in shares.items():
                if got >= POOL_MIN_SHARE:
                    pooled[a].append(i)
        for a, fits in sorted(pooled.items()):
            row = by_id[a]
            idx = min(fits, key=lambda i: (_operational_distance(row, ops[i]), i))
            added[idx].append(a)
            notes[a] = pool_note
    for idx, accs in added.items():
        neg_vol, comm, members, risk = pending[idx]
        pending[idx] = (neg_vol - requests_of(accs, by_id), comm, sorted({*members, *accs}), risk)
    return notes
