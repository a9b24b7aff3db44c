"""The ``[detect]`` configuration section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from distillguard.config import load_section, read_file
from distillguard.errors import ConfigError


def _default_rate_limits() -> dict[str, int]:
    return {"default": 600, "free": 60, "tier1": 500, "tier2": 1000, "enterprise": 5000}


def _default_edge_weights() -> dict[str, float]:
    return {
        "payment": 1.0,
        "ip": 0.6,
        "slash24": 0.3,
        "asn_ua": 0.2,
        "creation_burst": 0.6,
        "family": 1.0,
        "lockstep": 1.0,
        "signal_profile": 0.4,
    }


#: Every kind of edge the linking step draws, the keys of its default weights
#: (``linking.EDGE_REASONS`` says what each means).
EDGE_KINDS: tuple[str, ...] = tuple(_default_edge_weights())


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """``[detect]`` section: knobs of features, linking, scoring and verdicts.

    Attributes:
        seed: seed of every random choice (Leiden, pair sampling).
        memory_limit: DuckDB memory limit for the scan (``SET memory_limit``); larger joins
            spill to disk instead of growing (DuckDB's default is 80 % of the machine's RAM).
        rate_limits: requests per minute allowed per account tier (``default`` for others).
        max_tokens_cap: max_tokens value that counts as "at the cap"; 0 infers it per model as
            the largest value seen for that model.
        new_model_grace_hours: a model is "newly released" when the population first uses it
            more than this many hours after the log starts.
        key_fanout: links made per account inside one shared key (bounded fan-out: a key shared
            by n accounts gives about ``n * key_fanout`` edges, never n²).
        key_max_accounts: keys (IP, /24, payment, family...) shared by more accounts are ignored.
        lockstep_bucket_s: width of the co-activity time bucket, seconds.
        lockstep_max_accounts: co-activity buckets with more accounts are ignored (crowds).
        lockstep_min_shared: buckets two accounts must share to be linked by timing.
        family_min_share: share of an account's requests a template family must make up before
            it links that account.
        family_min_requests: requests an account must send in a family before it links it.
        signal_profile_min_ratio: a distillation signal keys an account's signal profile when
            its share is at least this fraction of the account's top signal's share (1.0: the
            top signal alone).
        edge_suspicion_floor: weight kept by an edge between two accounts that look clean on
            their own (1.0 disables suspicion weighting of the graph).
        creation_burst_minutes: accounts created within this many minutes with the same e-mail
            domain and tier form a creation burst.
        edge_weights: weight of each edge kind.
        min_edge_weight: edges lighter than this are dropped before clustering.
        leiden_resolution: modularity resolution of Leiden.
        leiden_iterations: Leiden passes (igraph's default, 2); a negative number iterates
            until the partition stops changing (more passes at scale, ~2x the time at 10M
            events, for a partition that agreed to adjusted Rand 0.999).
        merge_ratio: merge two communities when the weight between them is at least this share
            of the smaller one's total edge weight (undoes splits of one dense campaign).
        campaign_threshold: community risk at which a community becomes a campaign.
        suspect_threshold: account risk at which a lone account becomes ``suspect``.
        established_min_age_days: a verified account at least this old is not a lone
            ``suspect`` on its own risk (its risk is kept, and it is flagged when it is a
            campaign's member): an evaluation harness's first sweep of a benchmark reads
            like reasoning harvesting. 0 disables.
        member_threshold: an account in a campaign community is a member only if it has a
            behaviour edge inside it or its own risk reaches this value.
        member_min_risk: a core member (behaviour edge inside the community) belongs to the
            campaign only if its own risk reaches this (legitimate accounts of the crowd a
            campaign hides in stay below it: 99th percentile 0.05-0.15 on the simulator).
        member_relative_risk: ... and at least this share of the median risk of the
            community's suspicious core (bystanders of a very risky group stay out).
        anchor_min_share: when at least this share of a community's core (and at least
            ``min_campaign_accounts``) has risk ≥ ``suspect_threshold``, those anchors set the
            member gates (``member_relative_risk`` × their median risk, the content gate from
            their content): a small, clearly risky operation inside a large community of
            mildly unusual legitimate users. Above 1 disables it.
        crowd_tail_share: a community's suspicious core that is less than this share of the
            community's tied members is a campaign only when it still scores as one
            (``campaign_threshold``) with its distillation content counted in excess of
            those other members' (``campaigns._crowd_tail``): otherwise it is the riskiest
            tail of a crowd (the youngest, unverified few among hundreds of developers linked
            by the same kind of coding prompts), not an operation. No effect without text.
        crowd_tail_max_content: ... and a core whose requests carry at least this share of
            distillation content is never a crowd's tail (an operation's own content).
        lead_account_max_share: when one member sends more than this share of a campaign's
            requests, the other members must score as a campaign without it; otherwise that
            account is judged alone (one heavy harvester and the few developers tied to it).
        attach_min_content: an account of a campaign community with any edge inside it joins
            the campaign whatever its own risk (too few requests to have one) when at least
            this share of its requests carries distillation content (text needed).
        min_campaign_accounts: smallest campaign (accounts).
        min_campaign_events: smallest campaign (events); a graph campaign of at least
            ``family_crowd_min_accounts`` accounts of ``family_crowd_min_orgs``
            organisations needs only ``family_crowd_min_events`` (``campaigns._events_floor``).
        family_crowd_min_accounts: a template family is campaign evidence on its own (see
            ``detect/families.py``) when at least this many of its users fit; 0 disables it.
        family_crowd_min_orgs: ... it is used by at least this many organisations (one
            organisation's template is an app, not a crowd);
        family_crowd_min_share: ... a user fits when at least this share of its requests is
            in the family, at least ``attach_min_content`` carries distillation content and
            fewer than half repeat its earlier prompts;
        family_crowd_min_distinct: ... at least this share of the family's requests are
            distinct prompts (an evaluation harness repeats a fixed set);
        family_crowd_min_fit: ... and at least this share of its users fit (established
            accounts touching a popular template once do not).
        family_crowd_min_events: a family crowd that no campaign holds yet becomes a campaign
            of its own with at least this many requests (``min_campaign_events`` applies to
            smaller graph communities; a crowd is already several organisations' accounts on
            one rare wrapper, and a slow-and-low fleet's first requests are one per account).
        verbatim_crowd_signals: signals that make an identical prompt without a template
            family a shared probe when accounts of two organisations or more send it
            (:func:`distillguard.detect.families.verbatim_groups`); empty disables.
        member_relative_content: in text mode a campaign member needs at least this share of
            the larger of the median and the request-weighted median ``distill_share`` of the
            campaign's core (its own evidence, not only its neighbours'); 0 disables.
        attach_content_alpha: ... an account attached by identity (``attach_min_content``)
            also passes when its share is not significantly below that gate for how few
            requests it sent: the binomial chance of at most its content hits in its requests
            at the gate's rate is at least this (3 of 5 against 0.74: 0.39), and its content
            is at least 2.5 times as typical of the campaign as of the crowd
            (``membership.CAMPAIGN_LIKE``) from an account of the core's age; 0 disables.
        attach_tie_precision: ... and only when at least this share of the accounts tied to
            the campaign by identity outside its core are attached (send its content): a
            hydra on residential proxies shares IPs and sign-up minutes mostly with
            strangers, and a stranger's one reasoning prompt of two is not a thin share
            (an account on one of its cards is not a stranger by chance); 0
            gives the allowance whatever the ties.
        member_max_repeats: an established member (verified, ``established_min_age_days``
            old) repeating at least this share of its own prompts (``dup_prompt_share``)
            joins only a campaign whose typical member repeats at least half as much (an
            evaluation harness re-running the benchmark a campaign harvests); 0 disables.
        network_split_main: a campaign whose largest network group (members sharing ASNs,
            transitively) holds at least this share of its members ...
        network_split_rest: ... and whose other members (at least this share) use none of
            that group's networks is split in two when the rest scores as a campaign.
        network_split_min_features: ... and the rest also runs unlike the main group on at
            least this many operational features (as ``identity_split_min_features``
            counts them); 0 splits on networks alone ...
        network_split_max_tied: ... and at most this share of the rest has an identity tie
            (``identity_split_kinds``) to the main group; 1 ignores identity ties.
        identity_split_kinds: edge kinds that tie accounts to one operator (payment
            instrument, exact IP, creation burst) for the operator split ...
        identity_split_main: a campaign whose largest identity group holds at least this
            share of its members ...
        identity_split_rest: ... and whose members with no identity tie to that group (at
            least this share) ...
        identity_split_min_features: ... operate unlike it on at least this many operational
            features (disjoint interquartile ranges of IPs, ASNs, account age, active span,
            active days, request rate; a different pace, ``iat_cv``, counts as one), or work
            other hours of the day (enough alone), is split in two when the rest scores as a
            campaign (see ``detect/operators.py``); 0 features would split on identity
            alone, a value above the seven features disables the split. When no identity
            group holds ``identity_split_main``, each identity group of at least
            ``identity_split_rest``, and the largest however small a share it is (it is tied
            within, not a pool of stragglers), is split off under the same test.
        behaviour_split_kinds: edge kinds that show one operation's behaviour (signal
            profile, template family, lockstep timing, creation burst) for the behaviour
            split: a campaign whose members fall into two or more groups with none of these
            ties between them (only shared infrastructure: a reseller's card and proxies) ...
        behaviour_split_min_share: ... each holding at least this share of the campaign
            (0 disables) ...
        behaviour_split_min_features: ... and operating unlike its largest group on at
            least this many operational features is split, each group that scores as a
            campaign becoming one (``detect/operators.py``).
        family_claim_share: a template family is claimed by a campaign when at least this
            share of its content users are the campaign's members.
        family_attach_rounds: rounds of attaching accounts through claimed families (0
            disables).
        family_attach_min_requests: requests an account must send in a campaign's claimed
            families before it is attached (one request shows no pattern).
        family_owned_min_requests: ... or in families it owns (more than half of all the
            family's users are its members; a slow-and-low fleet's accounts that sent one or
            two prompts each).
        network_claim_share: an ASN is claimed by a campaign when its members are at least
            this share of the accounts on it that send distillation content ...
        profile_min_similarity: ... and an account on a claimed ASN whose content passes the
            campaign's gate joins when at least this share of its distillation signals are
            the campaign's own tactics (signals ≥ 5 % of its mix; 1.0 disables); an
            account of fewer than ``family_attach_min_requests`` requests only with content
            at least 2.5 times as typical of the campaign as of the crowd
            (``membership.CAMPAIGN_LIKE``).
        member_min_profile_similarity: a graph member with less than this share of its
            distillation signals among the campaign core's tactics is another operation
            (reasoning harvesting linked to a capability sweep by a shared network); 0
            disables.
        quiet_min_log_ratio: a core member of a community (risk ≥ ``member_min_risk``) left
            below its member gate joins a campaign the network or operator split made of that
            community (another operation than the one whose anchors set the gate) when its
            content passes that campaign's content gate, at least ``profile_min_similarity``
            of it is the campaign's tactics, and it is at least this typical of the campaign
            against the crowd (mean log-likelihood ratio per request; -0.69: not twice as
            typical of the crowd). The community's own campaign takes such a member only at
            ``membership.CAMPAIGN_LIKE`` (log 2.5: content plainly the campaign's). A value at
            or above that (e.g. 100) disables both.
        quiet_min_risk: ... and its own risk reaches this (lower than ``member_min_risk``:
            the content conditions carry the evidence of an account of 4-8 requests).
        privacy_min_campaign_accounts: in privacy mode (no prompt text in the store) a
            campaign needs at least this many accounts ...
        privacy_min_identity_share: ... or at least this share of its members tied by a
            payment instrument or a creation burst to accounts of other organisations
            (``detect/privacy.py``).
    """

    seed: int = 7
    memory_limit: str = "4GB"
    rate_limits: dict[str, int] = field(default_factory=_default_rate_limits)
    max_tokens_cap: int = 0
    new_model_grace_hours: float = 24.0
    key_fanout: int = 6
    key_max_accounts: int = 50_000
    lockstep_bucket_s: int = 60
    lockstep_max_accounts: int = 30
    lockstep_min_shared: int = 3
    family_min_share: float = 0.15
    family_min_requests: int = 3
    signal_profile_min_ratio: float = 0.5
    edge_suspicion_floor: float = 0.05
    creation_burst_minutes: int = 10
    edge_weights: dict[str, float] = field(default_factory=_default_edge_weights)
    min_edge_weight: float = 0.05
    leiden_resolution: float = 0.2
    leiden_iterations: int = 2
    merge_ratio: float = 0.2
    campaign_threshold: float = 0.5
    suspect_threshold: float = 0.85
    established_min_age_days: float = 365.0
    member_threshold: float = 0.5
    member_min_risk: float = 0.2
    member_relative_risk: float = 0.5
    anchor_min_share: float = 0.1
    crowd_tail_share: float = 0.25
    crowd_tail_max_content: float = 0.75
    lead_account_max_share: float = 0.5
    attach_min_content: float = 0.5
    min_campaign_accounts: int = 2
    min_campaign_events: int = 20
    family_crowd_min_accounts: int = 5
    family_crowd_min_orgs: int = 3
    family_crowd_min_share: float = 0.3
    family_crowd_min_distinct: float = 0.7
    family_crowd_min_fit: float = 0.6
    family_crowd_min_events: int = 5
    verbatim_crowd_signals: tuple[str, ...] = ("prompt_extraction", "jailbreak")
    member_relative_content: float = 0.8
    attach_content_alpha: float = 0.1
    attach_tie_precision: float = 0.5
    member_max_repeats: float = 0.5
    network_split_main: float = 0.3
    network_split_rest: float = 0.1
    network_split_min_features: int = 1
    network_split_max_tied: float = 0.2
    identity_split_kinds: tuple[str, ...] = ("payment", "ip", "creation_burst")
    identity_split_main: float = 0.5
    identity_split_rest: float = 0.03
    identity_split_min_features: int = 2
    behaviour_split_kinds: tuple[str, ...] = (
        "signal_profile", "family", "lockstep", "creation_burst",
    )  # fmt: skip
    behaviour_split_min_share: float = 0.2
    behaviour_split_min_features: int = 2
    family_claim_share: float = 0.2
    family_attach_rounds: int = 3
    family_attach_min_requests: int = 2
    family_owned_min_requests: int = 1
    network_claim_share: float = 0.3
    profile_min_similarity: float = 0.9
    member_min_profile_similarity: float = 0.3
    quiet_min_log_ratio: float = -0.69
    quiet_min_risk: float = 0.1
    privacy_min_campaign_accounts: int = 10
    privacy_min_identity_share: float = 0.5

    def __post_init__(self) -> None:
        # A misspelt edge kind would silently weigh nothing or tie nobody.
        for key in ("edge_weights", "identity_split_kinds", "behaviour_split_kinds"):
            bad = sorted(set(getattr(self, key)) - set(EDGE_KINDS))
            if bad:
                raise ConfigError(
                    f"[detect] {key}: unknown edge kind(s) {', '.join(bad)}; "
                    f"known: {', '.join(EDGE_KINDS)}"
                )


def load_detect_config(path: str | Path | None = None) -> DetectConfig:
    """Load ``[detect]`` from ``path`` (or ``$DISTILLGUARD_CONFIG``) and the environment.

    Raises:
        ConfigError: unknown key or bad value, naming ``[detect]`` and the key.
    """
    return load_section("detect", DetectConfig, file_data=read_file(path))
