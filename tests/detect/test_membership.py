"""Regression tests of campaign membership at scale (detect/membership.py via decide)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from distillguard.detect import membership
from distillguard.detect.allowlist import AllowList
from distillguard.detect.campaigns import decide
from distillguard.detect.config import DetectConfig
from distillguard.detect.membership import (
    NOT_CROWD,
    FamilyUsage,
    content_gate,
    content_log_ratio,
    network_groups,
    repeat_gate,
    separable,
    share_fits,
)
from distillguard.detect.scoring import AccountScore, score_account


def _row(aid: str, distill: float, n: int = 200, age: float = 1.0) -> dict[str, object]:
    return {
        "account_id": aid,
        "org_id": f"org-{aid}",
        "n_events": n,
        "distill_share": distill,
        "dup_prompt_share": 0.0,
        "account_age_days": age,
        "verified": 0,
        "max_tokens_cap_share": 1.0,
        "first_seen": datetime(2025, 3, 3, tzinfo=UTC),
        "last_seen": datetime(2025, 3, 4, tzinfo=UTC),
    }


def _decide(
    rows: list[dict[str, object]], cfg: DetectConfig | None = None, **kw: object
) -> list[tuple[str, ...]]:
    comm = {str(r["account_id"]): (0, True) for r in rows}
    kinds = {str(r["account_id"]): {"signal_profile": 2} for r in rows}
    _, camps = decide(
        rows, comm, kinds, {0: 1.0}, [], AllowList(), datetime.now(UTC), cfg or DetectConfig(), **kw
    )  # type: ignore[arg-type]
    return [c.accounts for c in camps]


def test_member_needs_its_own_content_not_only_its_neighbours() -> None:
    """Regression (demo-week, scale 1): 36 developers with 35-54 % reasoning prompts, linked
    to a capability sweep by popular ASN+UA and signal-profile edges, became members."""
    rows = [_row(f"h{i}", 1.0) for i in range(8)] + [_row("dev", 0.45, age=2.0)]
    (accounts,) = _decide(rows)
    assert "dev" not in accounts and len(accounts) == 8
    assert content_gate(["a", "b", "c"], {"a": {}, "b": {}, "c": {}}, 0.8) == 0.0  # no text


def test_campaigns_on_disjoint_networks_are_split() -> None:
    """Regression (demo-week, scale 1): a residential slow-and-low fleet running the same
    reasoning wrappers was folded into the datacenter hydra; 'found' failed for it."""
    # Fresh accounts rotating through ~30 datacenter IPs; aged accounts on one sticky IP.
    hydra = [{**_row(f"h{i}", 1.0), "n_ips": 30} for i in range(10)]
    quiet = [{**_row(f"q{i}", 1.0, n=15, age=120.0), "n_ips": 1} for i in range(5)]
    nets = {f"h{i}": frozenset({"100", "101"}) for i in range(10)}
    nets |= {f"q{i}": frozenset({str(200 + i % 3)}) for i in range(5)}
    camps = sorted(_decide(hydra + quiet, networks=nets))
    assert camps == [tuple(f"h{i}" for i in range(10)), tuple(f"q{i}" for i in range(5))]
    # Shared networks: one operation, not split.
    same = {a: frozenset({"100"}) for a in nets}
    assert len(_decide(hydra + quiet, networks=same)) == 1
    # Disjoint networks but run alike (benchmarks/scenarios/datagen-trusted.yaml, scale 0.05,
    # seed 2: one fleet of 15 aged accounts, one sticky datacenter IP each over 6 networks,
    # fell apart 5 + 10 by network): one operation, not split.
    fleet = [_row(f"f{i:02d}", 1.0, n=40, age=400.0) for i in range(15)]
    by_net = {f"f{i:02d}": frozenset({str(300 + (i < 5))}) for i in range(15)}
    assert len(_decide(fleet, networks=by_net)) == 1
    assert len(_decide(fleet, networks=by_net, cfg=DetectConfig(network_split_min_features=0))) == 2
    # The same fleet of bought aged accounts, whose two parts differ in age by chance (seeds
    # 7 and 8: 19-89 vs 92-368 days), paying with the same two cards: one operator.
    aged = [{**r, "account_age_days": 40.0 if i < 5 else 250.0} for i, r in enumerate(fleet)]
    cards = [(f"f{i:02d}", f"f{i + 5:02d}") for i in range(5)]
    assert len(_decide(aged, networks=by_net, identity_pairs=lambda m: cards)) == 1
    assert len(_decide(aged, networks=by_net, identity_pairs=lambda m: [])) == 2
    # One operation that bought a new network with each batch of accounts (benchmarks/
    # scenarios/six-small.yaml, scale 0.25 seed 5: 30 accounts created over 30 days, the
    # newest ten on their own network, fell apart 20 + 10): the parts' ages run into each
    # other, so age alone does not split them.
    batches = [_row(f"b{i:02d}", 1.0, n=40, age=30.0 - i) for i in range(30)]
    by_batch = {f"b{i:02d}": frozenset({str(400 + i // 10)}) for i in range(30)}
    assert len(_decide(batches, networks=by_batch, identity_pairs=lambda m: [])) == 1
    groups = network_groups(["a", "b", "c"], {"a": frozenset({"1"}), "b": frozenset({"1", "2"})})
    assert groups["a"] == groups["b"] != groups["c"]


def test_small_accounts_join_through_the_campaigns_wrapper_families() -> None:
    """Regression (demo-week, scale 1): 210 slow-and-low accounts with 2-10 requests had no
    risk and no identity edge; they speak through the campaign's wrapper families."""
    camp = [_row(f"h{i}", 1.0) for i in range(6)]
    small = [_row("s1", 1.0, n=3, age=120.0), _row("s2", 1.0, n=4, age=120.0)]
    lone = _row("one", 1.0, n=1, age=120.0)  # a single request shows no pattern
    mixed = _row("dev", 0.5, n=4, age=300.0)  # content unlike the campaign's
    popular = _row("pop", 1.0, n=3, age=300.0)  # a template thousands use is nobody's wrapper
    by_acc: dict[str, dict[int, int]] = {f"h{i}": {7: 20} for i in range(6)}
    by_acc |= {"s1": {7: 3}, "s2": {7: 2, 9: 2}, "one": {7: 1}, "dev": {7: 4}, "pop": {9: 3}}
    usage = FamilyUsage(by_acc, {7: 20, 9: 5000})
    (accounts,) = _decide(camp + small + [lone, mixed, popular], family_usage=usage)
    assert set(accounts) == {*(f"h{i}" for i in range(6)), "s1", "s2"}


def test_one_request_through_a_family_the_campaign_owns_joins() -> None:
    """Regression (demo-week seeds 4 and 8, scale 0.05): slow-and-low accounts that sent
    1-2 prompts each, every one distillation content and one of them through a wrapper
    family used by 9 of the campaign's members and nobody else, stayed out (recall 0.91)."""
    camp = [_row(f"q{i}", 1.0) for i in range(9)]
    one = _row("one", 1.0, n=1, age=40.0)
    two = _row("two", 1.0, n=2, age=40.0)  # one prompt in the owned family, one elsewhere
    dev = _row("dev", 0.5, n=1, age=300.0)  # content unlike the campaign's
    stray = _row("stray", 1.0, n=1, age=300.0)  # a family the campaign merely claims
    by_acc: dict[str, dict[int, int]] = {f"q{i}": {7: 3, 9: 1} for i in range(9)}
    by_acc |= {"one": {7: 1}, "two": {7: 1, -1: 1}, "dev": {7: 1}, "stray": {9: 1}}
    usage = FamilyUsage(by_acc, {7: 10, 9: 40})
    (accounts,) = _decide(camp + [one, two, dev, stray], family_usage=usage)
    assert set(accounts) == {*(f"q{i}" for i in range(9)), "one", "two"}
    # family_owned_min_requests = 2: a single request shows no pattern, as before.
    _, camps = decide(
        camp + [one, two, dev, stray],
        {str(r["account_id"]): (0, True) for r in [*camp, one, two, dev, stray]},
        {str(r["account_id"]): {"signal_profile": 2} for r in [*camp, one, two, dev, stray]},
        {0: 1.0},
        [],
        AllowList(),
        datetime.now(UTC),
        DetectConfig(family_owned_min_requests=2),
        family_usage=usage,
    )  # type: ignore[arg-type]
    assert set(camps[0].accounts) == {f"q{i}" for i in range(9)}


def test_member_with_another_operations_content_mix_is_not_a_member() -> None:
    """Regression (demo-week, scale 1): slow-and-low reasoning harvesters sharing a popular
    ASN+UA with a capability sweep were counted as the sweep's members."""
    sweep = [{**_row(f"c{i}", 1.0), "sig_capability_sweep_share": 1.0} for i in range(8)]
    other = {**_row("r", 1.0), "sig_reasoning_trace_share": 1.0}
    (accounts,) = _decide([*sweep, other])
    assert "r" not in accounts and len(accounts) == 8


@pytest.mark.parametrize(
    ("signal", "ages", "joins", "stays"),
    [
        # an aged fleet: the twin joins, a small account with a sweep's content does not
        (
            "reasoning_trace",
            (60.0, 20.0),
            ("t", "reasoning_trace", 120.0),
            ("u", "capability_sweep", 120.0),
        ),
        # Regression (benchmarks/scenarios/sweep-only.yaml, scale 0.05 seed 1 and 0.25 seed
        # 5): developers 66-494 days old whose 2-6 coding prompts all read as sweeps, on
        # networks a sweep of 0.2-1.9-day-old accounts dominates, were attached.
        (
            "capability_sweep",
            (0.2, 0.3),
            ("fresh", "capability_sweep", 2.5),
            ("dev", "capability_sweep", 494.0),
        ),
    ],
)
def test_small_account_on_a_network_the_campaign_dominates_joins_like_its_members(
    signal: str,
    ages: tuple[float, float],
    joins: tuple[str, str, float],
    stays: tuple[str, str, float],
) -> None:
    """Same network, same content mix, and an account of the campaign's age."""
    camp = [
        {**_row(f"m{i}", 1.0, age=ages[0] + ages[1] * i), f"sig_{signal}_share": 1.0}
        for i in range(6)
    ]
    small = [
        {**_row(aid, 1.0, n=3, age=age), f"sig_{sig}_share": 1.0}
        for aid, sig, age in (joins, stays)
    ]
    nets = {str(r["account_id"]): frozenset({"9506"}) for r in [*camp, *small]}
    usage = FamilyUsage({a: {-1: 3} for a in nets}, {})
    (accounts,) = _decide([*camp, *small], networks=nets, family_usage=usage)
    assert joins[0] in accounts and stays[0] not in accounts


@pytest.mark.parametrize(
    ("member_requests", "joins"), [(2, {"grader", "coder2"}), (25, {"coder2"})]
)
def test_one_request_on_a_network_the_campaign_dominates_needs_plainly_its_content(
    member_requests: int, joins: set[str]
) -> None:
    """Regression (mobile-thin, scale 0.25 seed 5): 59 of a rotating mobile fleet's two-day
    accounts sent one grading or reasoning prompt each, on carriers the fleet dominates, and
    were left out because the network route asked for two requests (recall 0.946). One
    request joins only a fleet of thin accounts, and only with content plainly the
    campaign's: one sweep-like coding prompt is what the crowd sends. Regression (held-out
    grader-lb, scale 0.1 seed 3): one legitimate prompt misread as grading, on a carrier of
    a fleet whose accounts send 25 requests each, joined it."""
    camp = [
        {**_row(f"m{i}", 1.0, n=member_requests, age=2.0), "sig_rubric_grading_share": 0.5}
        | {"sig_capability_sweep_share": 0.5}
        for i in range(6)
    ]

    def one(aid: str, signal: str, n: int = 1) -> dict[str, object]:
        return {**_row(aid, 1.0, n=n, age=2.0), f"sig_{signal}_share": 1.0}

    grader, coder, coder2 = (
        one("grader", "rubric_grading"),
        one("coder", "capability_sweep"),
        one("coder2", "capability_sweep", n=2),
    )
    crowd = [
        {**_row(f"c{i:02d}", 1.0, n=20, age=300.0), "sig_capability_sweep_share": 0.6}
        | {"sig_reasoning_trace_share": 0.4}
        for i in range(30)
    ]
    nets = {str(r["account_id"]): frozenset({"9506"}) for r in [*camp, grader, coder, coder2]}
    nets |= {str(r["account_id"]): frozenset({"7922"}) for r in crowd}
    usage = FamilyUsage({a: {-1: 1} for a in nets}, {})
    core = {f"m{i}" for i in range(6)}
    accounts = _decide_with_crowd(
        camp, [grader, coder, coder2, *crowd], core, networks=nets, family_usage=usage
    )
    # The coding prompt is 0.83 times as typical of the campaign as of the crowd: not the
    # crowd's (log ratio > -log 2), so two of them join, but not plainly the campaign's.
    assert set(accounts) == core | joins


def test_popular_template_a_large_campaign_dominates_does_not_pull_in_other_networks() -> None:
    """Regression (hydra-release, scale 0.05): a developer with 2 coding prompts in the
    catch-all coding family, 28 % of whose users were the hydra, was attached to it."""
    camp = [_row(f"h{i}", 1.0) for i in range(6)]
    dev = _row("dev", 1.0, n=4, age=75.0)
    nets = {f"h{i}": frozenset({"16276"}) for i in range(6)} | {"dev": frozenset({"9318"})}
    usage = FamilyUsage({**{f"h{i}": {0: 20} for i in range(6)}, "dev": {0: 2}}, {0: 20})
    (accounts,) = _decide([*camp, dev], networks=nets, family_usage=usage)
    assert "dev" not in accounts
    (same,) = _decide(
        [*camp, dev], networks=nets | {"dev": frozenset({"16276"})}, family_usage=usage
    )
    assert "dev" in same


def test_clear_anchors_set_the_bar_in_a_crowded_community() -> None:
    """Regression (small-in-large, scale 0.1-1): in a 14,600-account community, young
    developers with half-sweep coding prompts (own risk ~0.5, content 0.5) outnumbered the
    needle campaign's clearly risky accounts in the core and set its median-relative gates."""
    from dataclasses import replace

    from distillguard.detect.scoring import score_account

    needle = [_row(f"n{i:02d}", 1.0) for i in range(10)]
    devs = [_row(f"d{i:02d}", 0.5, n=30, age=8.0) for i in range(25)]
    scores = {str(r["account_id"]): replace(score_account(r, []), risk=0.99) for r in needle}
    scores |= {str(r["account_id"]): replace(score_account(r, []), risk=0.51) for r in devs}
    (accounts,) = _decide(needle + devs, scores=scores)
    assert accounts == tuple(str(r["account_id"]) for r in needle)
    # Anchors that are a small minority of the core (here 1 of 26) do not set the bar (the
    # developers' content is made close to the needle's here, so that the content gate,
    # which follows the group's requests, does not keep them out either).
    few = {**scores, **{f"n{i:02d}": replace(scores[f"n{i:02d}"], risk=0.51) for i in range(1, 10)}}
    close = [{**r, "distill_share": 0.9} for r in devs]
    (accounts,) = _decide(needle + close, scores=few)
    assert len(accounts) == len(needle) + len(devs)


def _mix(aid: str, n: int, reasoning: float, sweep: float, age: float = 5.0) -> dict[str, object]:
    return {
        **_row(aid, 1.0, n=n, age=age),
        "sig_reasoning_trace_share": reasoning,
        "sig_capability_sweep_share": sweep,
    }


def _decide_with_crowd(
    rows: list[dict[str, object]],
    outside: list[dict[str, object]],
    core: set[str],
    cfg: DetectConfig | None = None,
    ties: dict[str, dict[str, int]] | None = None,
    **kw: object,
) -> tuple[str, ...]:
    """One campaign community (``rows``, core members ``core``) and a crowd in no community;
    a non-core row has one IP edge unless ``ties`` gives its edges."""
    comm = {str(r["account_id"]): (0, str(r["account_id"]) in core) for r in rows}
    comm |= {str(r["account_id"]): (-1, False) for r in outside}
    kinds = {a: {"signal_profile": 2} for a in core}
    kinds |= {str(r["account_id"]): {"ip": 1} for r in rows if r["account_id"] not in core}
    kinds |= ties or {}
    _, camps = decide(
        [*rows, *outside],
        comm,
        kinds,
        {0: 1.0},
        [],
        AllowList(),
        datetime.now(UTC),
        cfg or DetectConfig(),
        **kw,  # type: ignore[arg-type]
    )
    (camp,) = camps
    return camp.accounts


def test_content_log_ratio_weighs_the_campaigns_mix_against_the_crowds() -> None:
    campaign = {"sig_reasoning_trace_share": 600.0, "sig_capability_sweep_share": 250.0}
    crowd = {"sig_capability_sweep_share": 980.0, "sig_reasoning_trace_share": 2.0}
    sweep = {"sig_capability_sweep_share": 2.0}
    assert content_log_ratio(sweep, campaign, crowd) < NOT_CROWD
    assert content_log_ratio({"sig_reasoning_trace_share": 2.0}, campaign, crowd) > 0
    mixed = {"sig_reasoning_trace_share": 1.0, "sig_capability_sweep_share": 1.0}
    assert content_log_ratio(mixed, campaign, crowd) > 0
    assert content_log_ratio(sweep, campaign, {}) == 0.0  # no crowd: no evidence either way
    assert content_log_ratio({}, campaign, crowd) == 0.0
    # A campaign whose tactic is the crowd's own keeps its indistinguishable tiny members.
    sweeper = {"sig_capability_sweep_share": 900.0, "sig_reasoning_trace_share": 50.0}
    assert content_log_ratio(sweep, sweeper, crowd) >= NOT_CROWD


def test_network_attach_needs_content_more_typical_of_the_campaign_than_of_the_crowd() -> None:
    """Regression (small-in-large, scale 0.1, seeds 7 and 11): 6-10 legitimate accounts with
    2-5 coding prompts (all read as a capability sweep, like 98 % of the crowd's distillation
    content) on consumer ISPs the needle's residential proxies rotate through were attached
    "from a network its members dominate"; the needle is 60 % reasoning-trace harvesting."""
    camp = [_mix(f"n{i}", 40, 0.6, 0.4) for i in range(6)]
    dev = _mix("dev", 2, 0.0, 1.0, age=8.0)  # of the campaign's age: content decides
    twin = _mix("twin", 2, 0.5, 0.5, age=3.0)
    crowd = [_mix(f"c{i:02d}", 20, 0.0, 1.0, age=300.0) for i in range(30)]
    ids = [str(r["account_id"]) for r in [*camp, dev, twin]]
    nets = {a: frozenset({"701"}) for a in ids} | {
        str(r["account_id"]): frozenset({"7922"}) for r in crowd
    }
    usage = FamilyUsage({a: {-1: 2} for a in nets}, {})
    core = {f"n{i}" for i in range(6)}
    accounts = _decide_with_crowd(
        camp, [dev, twin, *crowd], core, networks=nets, family_usage=usage
    )
    assert set(accounts) == core | {"twin"}
    # Without a crowd sending that content elsewhere, the sweep-only account still joins.
    alone = FamilyUsage({a: {-1: 2} for a in ids}, {})
    accounts = _decide_with_crowd(camp, [dev, twin], core, networks=nets, family_usage=alone)
    assert set(accounts) == core | {"twin", "dev"}


def test_identity_attach_needs_content_more_typical_of_the_campaign_than_of_the_crowd() -> None:
    """Regression (small-in-large, scale 0.1, seed 7): two casual accounts with 2 coding
    prompts, sharing one residential IP or a creation minute with the needle, were members."""
    camp = [_mix(f"n{i}", 40, 0.6, 0.4) for i in range(6)]
    casual = _mix("casual", 2, 0.0, 1.0, age=480.0)
    small = _mix("small", 2, 1.0, 0.0, age=3.0)
    crowd = [_mix(f"c{i:02d}", 20, 0.0, 1.0, age=300.0) for i in range(30)]
    users = [str(r["account_id"]) for r in [*camp, casual, small, *crowd]]
    usage = FamilyUsage({a: {-1: 2} for a in users}, {})
    core = {f"n{i}" for i in range(6)}
    accounts = _decide_with_crowd([*camp, casual, small], crowd, core, family_usage=usage)
    assert set(accounts) == core | {"small"}
    accounts = _decide_with_crowd([*camp, casual, small], crowd, core)  # no text: no crowd
    assert set(accounts) == core | {"small", "casual"}


def test_share_fits_allows_for_how_few_requests_an_account_sent() -> None:
    assert share_fits(5, 0.8, 0.74, 0.0)  # at or above the gate: always
    assert not share_fits(5, 0.6, 0.74, 0.0)  # no allowance
    assert share_fits(5, 0.6, 0.74, 0.1)  # 3 of 5: P(X <= 3 | 5, 0.74) = 0.39
    assert share_fits(2, 0.5, 0.74, 0.1)  # 1 of 2: 0.45
    assert not share_fits(10, 0.3, 0.74, 0.1)  # 3 of 10: 0.0045
    assert not share_fits(40, 0.6, 0.74, 0.1)  # 24 of 40: 0.037, many requests measure it
    assert not share_fits(0, 0.0, 0.74, 0.1)  # nothing sent, nothing measured
    assert not share_fits(3, 0.0, 0.74, 0.1)  # 0 of 3: 0.018


def test_thin_identity_tied_account_is_judged_on_what_few_requests_it_sent() -> None:
    """Regression (held-out jailbreak-swarm, scale 0.25, seed 5): probers of 2-7 requests on
    the swarm's IPs, 3 of 5 or 5 of 7 of them jailbreaks, were left out by a content gate of
    0.74 that an account at the swarm's own rate misses that often by chance."""
    camp = [_mix(f"n{i}", 40, 1.0, 0.0) for i in range(6)]
    thin = {**_mix("thin", 5, 0.6, 0.0), "distill_share": 0.6}  # 3 of 5
    chatty = {**_mix("chatty", 20, 0.55, 0.0), "distill_share": 0.55}  # 11 of 20: too few
    # Regression (make demo): 2 of 3 from an account of 128 days beside a two-day-old fleet.
    aged = {**_mix("aged", 5, 0.6, 0.0, age=128.0), "distill_share": 0.6}
    crowd = [_mix(f"c{i:02d}", 20, 0.0, 1.0, age=300.0) for i in range(30)]
    users = [str(r["account_id"]) for r in [*camp, thin, chatty, aged, *crowd]]
    usage = FamilyUsage({a: {-1: 2} for a in users}, {})
    core = {f"n{i}" for i in range(6)}
    rows = [*camp, thin, chatty, aged]
    accounts = _decide_with_crowd(rows, crowd, core, family_usage=usage)
    assert set(accounts) == core | {"thin"}
    strict = DetectConfig(attach_content_alpha=0.0)
    accounts = _decide_with_crowd(rows, crowd, core, family_usage=usage, cfg=strict)
    assert set(accounts) == core


def test_thin_account_is_not_forgiven_when_the_campaigns_ties_are_mostly_to_strangers() -> None:
    """Regression (scale-10m, scale 0.1, seed 7): three casual users of 2-4 requests, one or
    two of them a popular reasoning prompt, each on one of a 2,000-account hydra's residential
    IPs or sign-up minutes, were forgiven a short share. 235 of the 250 accounts tied to that
    hydra outside its core sent next to no distillation content: its ties are chance."""
    camp = [_mix(f"n{i}", 40, 1.0, 0.0) for i in range(6)]
    thin = {**_mix("thin", 5, 0.6, 0.0), "distill_share": 0.6}  # 3 of 5: forgiven above
    strangers = [{**_mix(f"s{i}", 10, 0.1, 0.0, age=300.0), "distill_share": 0.1} for i in range(4)]
    crowd = [_mix(f"c{i:02d}", 20, 0.0, 1.0, age=300.0) for i in range(30)]
    users = [str(r["account_id"]) for r in [*camp, thin, *strangers, *crowd]]
    usage = FamilyUsage({a: {-1: 2} for a in users}, {})
    core = {f"n{i}" for i in range(6)}
    rows = [*camp, thin, *strangers]
    # One attached account (thin) of five tied: 0.2 < attach_tie_precision 0.5.
    assert set(_decide_with_crowd(rows, crowd, core, family_usage=usage)) == core
    lax = DetectConfig(attach_tie_precision=0.2)
    accounts = _decide_with_crowd(rows, crowd, core, family_usage=usage, cfg=lax)
    assert set(accounts) == core | {"thin"}
    # Regression (held-out reseller-pair, scale 0.1 seed 3): an extractor on its fleet's
    # cards, among a reseller's customers, is not tied by chance.
    card = {"thin": {"ip": 1, "payment": 1}}
    accounts = _decide_with_crowd(rows, crowd, core, family_usage=usage, ties=card)
    assert set(accounts) == core | {"thin"}
    # ... but a customer on a reseller's card, which every customer shares, is forgiven
    # only content that is the campaign's beyond doubt (CARD_LIKE): where a fifth of what the
    # crowd sends reads like the campaign's, 3 of 5 such requests is a customer's own
    # (benchmarks/bench_detect_random.py, draw 1, scenario 4: nine customers of a reseller
    # whose coding prompt of two read as the campaign's sweep).
    mixed = [_mix(f"c{i:02d}", 20, 0.2, 0.8, age=300.0) for i in range(30)]
    accounts = _decide_with_crowd(rows, mixed, core, family_usage=usage, ties=card)
    assert set(accounts) == core
    # Regression (scale-10m, 10M events): one residential IP shared with six members is six
    # edges, and still one chance tie.
    one_ip = {"thin": {"ip": 6}}
    accounts = _decide_with_crowd(rows, crowd, core, family_usage=usage, ties=one_ip)
    assert set(accounts) == core


def test_thin_account_sending_the_crowds_content_is_not_forgiven_a_short_share() -> None:
    """Regression (sweep-only, scale 0.25, seed 5): a developer of 12 requests, 8 of them
    coding prompts that read as a capability sweep, on one of a sweep hydra's rotating IPs:
    what it sent is what every developer sends, so 8 of 12 is its own rate."""
    camp = [_mix(f"n{i}", 40, 0.0, 1.0) for i in range(6)]
    dev = {**_mix("dev", 12, 0.0, 8 / 12), "distill_share": 8 / 12}
    crowd = [_mix(f"c{i:02d}", 20, 0.0, 1.0, age=300.0) for i in range(30)]
    users = [str(r["account_id"]) for r in [*camp, dev, *crowd]]
    usage = FamilyUsage({a: {-1: 2} for a in users}, {})
    core = {f"n{i}" for i in range(6)}
    assert set(_decide_with_crowd([*camp, dev], crowd, core, family_usage=usage)) == core


def _core_and_crowd(
    inside: list[dict[str, object]], crowd: list[dict[str, object]], risk: dict[str, float]
) -> tuple[dict[str, Any], list[str], FamilyUsage, dict[str, tuple[int, bool]], dict[str, Any]]:
    """One community's core (``inside``) and a crowd in none, every account a content user
    tied by its signal profile; risks by the account id's first letter (default 0.3)."""
    from dataclasses import replace

    scores = {
        str(r["account_id"]): replace(
            score_account(r, []), risk=risk.get(str(r["account_id"])[0], 0.3)
        )
        for r in [*inside, *crowd]
    }
    users = [str(r["account_id"]) for r in [*inside, *crowd]]
    usage = FamilyUsage({a: {-1: 2} for a in users}, {})
    comm = {str(r["account_id"]): (0, True) for r in inside}
    comm |= {str(r["account_id"]): (-1, False) for r in crowd}
    kinds: dict[str, Any] = {a: {"signal_profile": 2} for a in users}
    return scores, users, usage, comm, kinds


def test_quiet_core_members_join_the_operation_they_run_like() -> None:
    """Regression (demo-week, scale 0.05, seeds 1-3): a residential slow-and-low fleet in the
    hydra's community was split off by network, but most of its 20 accounts (5-16 requests,
    own risk 0.1-0.45) stayed below the member gate the hydra's anchors set (0.5 x 0.99) and
    the campaign was not found on seeds 1, 2 and 3."""
    from dataclasses import replace

    from distillguard.detect.scoring import score_account

    def acct(aid: str, n: int, reasoning: float, synth: float, age: float, ips: int) -> dict:
        return {
            **_row(aid, 1.0, n=n, age=age),
            "sig_reasoning_trace_share": reasoning,
            "sig_synthetic_data_share": synth,
            "n_ips": ips,
            "n_asns": ips,
        }

    hydra = [acct(f"h{i}", 40, 1.0, 0.0, 1.0, 30) for i in range(8)]
    fleet = [acct(f"q{i}", 25, 0.7, 0.3, 90.0, 1) for i in range(4)]
    quiet = [acct(f"s{i}", 6, 0.8, 0.2, 90.0, 1) for i in range(3)]
    quiet.append(acct("s3", 6, 1.0, 0.0, 90.0, 1))  # fits the hydra's content too
    quiet.append(acct("t0", 5, 0.8, 0.2, 90.0, 1))  # risk 0.15: under member_min_risk
    # Same community core, not the campaigns' content: a developer (a third distillation-like),
    # an evaluation harness repeating a fixed set, a fleet-like account below quiet_min_risk,
    # a small account sending another tactic.
    dev = {**acct("dev", 30, 0.7, 0.3, 300.0, 1), "distill_share": 0.3}
    harness = {**acct("eval", 50, 1.0, 0.0, 300.0, 1), "dup_prompt_share": 0.9}
    faint = acct("faint", 6, 0.8, 0.2, 90.0, 1)
    sweep = {**acct("wsweep", 6, 0.0, 0.0, 90.0, 1), "sig_capability_sweep_share": 1.0}
    crowd = [{**acct(f"c{i:02d}", 20, 0.5, 0.5, 300.0, 1), "distill_share": 0.3} for i in range(20)]
    inside = [*hydra, *fleet, *quiet, dev, harness, faint, sweep]
    risk = {"h": 0.99, "q": 0.9, "s": 0.3, "t": 0.15, "d": 0.3, "e": 0.3, "f": 0.05}
    scores, users, usage, comm, kinds = _core_and_crowd(inside, crowd, risk)
    nets = {str(r["account_id"]): frozenset({"100", "101"}) for r in hydra}
    nets |= {str(r["account_id"]): frozenset({f"2{i:02d}"}) for i, r in enumerate(inside[8:])}

    def run(cfg: DetectConfig) -> list[tuple[str, ...]]:
        _, camps = decide(
            [*inside, *crowd],
            comm,
            kinds,
            {0: 1.0},
            [],
            AllowList(),
            datetime.now(UTC),
            cfg,
            scores=scores,
            networks=nets,
            family_usage=usage,
        )
        return sorted(c.accounts for c in camps)

    fleet_ids = (*(f"q{i}" for i in range(4)), *(f"s{i}" for i in range(4)), "t0")
    assert run(DetectConfig()) == [tuple(f"h{i}" for i in range(8)), fleet_ids]
    # The step off: the quiet accounts stay out, as before.
    off = run(DetectConfig(quiet_min_log_ratio=100.0))
    assert off == [tuple(f"h{i}" for i in range(8)), tuple(f"q{i}" for i in range(4))]

    # Regression (demo-week, scale 0.05, seed 1): a fleet account that sent one prompt, in a
    # wrapper family of ten users of which the split-off campaign held 4 before the quiet
    # members joined (claimed, not owned) and 9 after (owned): it joins once they have.
    one = acct("u0", 1, 0.8, 0.2, 90.0, 1)
    users.append("u0")
    usage = FamilyUsage(
        {a: ({71: 2} if a in fleet_ids else {-1: 2}) for a in users} | {"u0": {71: 1}}, {71: 10}
    )
    comm["u0"] = (-1, False)
    scores["u0"] = replace(score_account(one, []), risk=0.01)
    crowd.append(one)
    assert run(DetectConfig()) == [tuple(f"h{i}" for i in range(8)), (*fleet_ids, "u0")]


def test_quiet_core_members_sending_plainly_its_content_join_their_communitys_campaign() -> None:
    """Regression (held-out grader-chase, scale 0.25, seed 5): grading accounts of 4-8
    requests (own risk 0.10-0.43, all of it rubric grading, content no crowd sends) sat in
    the core of their fleet's community below the gate its anchors set (0.5 x 0.99); quiet
    developers whose sweep-like coding prompts are the crowd's own stay out."""

    def acct(aid: str, n: int, grading: float, sweep: float) -> dict[str, object]:
        return {
            **_row(aid, 1.0, n=n, age=20.0),
            "sig_rubric_grading_share": grading,
            "sig_capability_sweep_share": sweep,
        }

    # The fleet also sweeps capabilities, so the developers' content is among its tactics and
    # not clearly the crowd's either (log ratio about -0.5): not plainly the fleet's.
    fleet = [acct(f"g{i}", 40, 0.4, 0.6) for i in range(8)]
    quiet = [acct(f"q{i}", 6, 1.0, 0.0) for i in range(3)]
    devs = [acct(f"d{i}", 6, 0.0, 1.0) for i in range(3)]
    crowd = [acct(f"c{i:02d}", 20, 0.0, 1.0) for i in range(30)]
    inside = [*fleet, *quiet, *devs]
    scores, _, usage, comm, kinds = _core_and_crowd(inside, crowd, {"g": 0.99, "c": 0.05})

    def run(cfg: DetectConfig) -> list[tuple[str, ...]]:
        _, camps = decide(
            [*inside, *crowd], comm, kinds, {0: 1.0}, [], AllowList(), datetime.now(UTC), cfg,
            scores=scores, family_usage=usage,
        )  # fmt: skip
        return sorted(c.accounts for c in camps)

    fleet_ids = tuple(f"g{i}" for i in range(8))
    assert run(DetectConfig()) == [(*fleet_ids, "q0", "q1", "q2")]
    assert run(DetectConfig(quiet_min_log_ratio=100.0)) == [fleet_ids]  # the step off


def test_quiet_members_drawing_from_the_campaigns_prompt_pool_join_despite_repeats() -> None:
    """Regression (benchmarks/bench_detect_random.py, draw 2, scenario 10): a capability
    sweep's 21 heaviest accounts (126-837 requests, 58-85 % repeats, content that reads as
    developers' coding prompts) scored 0.10-0.45 and stayed out; 97-100 % of their distinct
    prompts were prompts the fleet's other accounts sent. A harness repeating its own
    benchmark and developers whose prompts are their own stay out."""

    def acct(aid: str, n: int, sweep: float, dup: float = 0.0) -> dict[str, object]:
        return {
            **_row(aid, 1.0, n=n, age=20.0),
            "sig_reasoning_trace_share": 1.0 - sweep,
            "sig_capability_sweep_share": sweep,
            "dup_prompt_share": dup,
        }

    fleet = [acct(f"g{i}", 40, 0.6) for i in range(8)]
    heavy = [acct(f"p{i}", 400, 1.0, dup=0.8) for i in range(3)]
    harness = acct("e0", 500, 1.0, dup=0.9)
    devs = [acct(f"d{i}", 30, 1.0) for i in range(3)]
    crowd = [acct(f"c{i:02d}", 20, 1.0) for i in range(30)]
    inside = [*fleet, *heavy, harness, *devs]
    scores, _, usage, comm, kinds = _core_and_crowd(inside, crowd, {"g": 0.99, "c": 0.05})
    asked: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def pool(candidates: Sequence[str], members: Sequence[str]) -> dict[str, float]:
        asked.append((tuple(sorted(candidates)), tuple(members)))
        return {a: (1.0 if a.startswith("p") else 0.1) for a in candidates}

    def run(cfg: DetectConfig, **kw: Any) -> list[tuple[str, ...]]:
        _, camps = decide(
            [*inside, *crowd], comm, kinds, {0: 1.0}, [], AllowList(), datetime.now(UTC), cfg,
            scores=scores, family_usage=usage, **kw,
        )  # fmt: skip
        return sorted(c.accounts for c in camps)

    fleet_ids = tuple(f"g{i}" for i in range(8))
    assert run(DetectConfig(), prompt_pool=pool) == [(*fleet_ids, "p0", "p1", "p2")]
    # Asked once, for the quiet members that fit only through the pool, against the fleet.
    assert asked == [(("d0", "d1", "d2", "e0", "p0", "p1", "p2"), fleet_ids)]
    # Without the pool, or with the step off, the repeaters stay out as before.
    assert run(DetectConfig()) == [fleet_ids]
    assert run(DetectConfig(quiet_min_log_ratio=100.0), prompt_pool=pool) == [fleet_ids]


def test_prompt_pool_counts_a_candidates_distinct_prompts_the_campaign_shares() -> None:
    import duckdb

    con = duckdb.connect()
    members = [f"m{i}" for i in range(4)]
    rows = [(m, d) for m in members[:3] for d in "abc"]  # the pool: three members send a-c
    rows += [("m3", "d"), ("m3", None), ("m2", "d")]  # two members send d: not the pool's
    rows += [("x", d) for d in "abcdefghij"] + [("x", "a")] * 5  # 10 distinct, 3 the pool's
    rows += [("y", d) for d in "abcabc"]  # 3 distinct: too few to measure
    rows += [("z", d) for d in "klmnopqrst"]  # sends none of the members' prompts
    con.execute("CREATE TABLE ev (account_id VARCHAR, prompt_digest VARCHAR)")
    con.executemany("INSERT INTO ev VALUES (?, ?)", rows)
    share = membership.prompt_pool(con, "ev")
    assert share(["x", "y", "z"], members) == {"x": 0.3, "z": 0.0}
    # A candidate's own prompts do not count as the members' (it is not one of them), and
    # a prompt needs three senders among them.
    assert share(["x", "z"], ["m0", "m1", "x"]) == {"x": 0.0, "z": 0.0}
    assert share([], ["m1"]) == {} and share(["x"], []) == {}


def test_feature_rows_remember_each_accounts_mix_and_give_the_same_sums() -> None:
    from distillguard.detect.membership import FeatureRows, signal_mix

    rows = {
        "a": {"n_events": 10, "sig_reasoning_trace_share": 0.3, "sig_rubric_grading_share": 0.1},
        "b": {"n_events": 7, "sig_reasoning_trace_share": 1.0, "sig_other": 5.0, "x_share": 1},
        "c": {"n_events": None, "sig_reasoning_trace_share": 0.5},
        "d": {"n_events": 3, "sig_capability_sweep_share": 0.0},
    }
    cached = FeatureRows(rows)
    for members in (["a"], ["a", "b"], ["b", "a", "c", "d"], []):
        assert signal_mix(members, cached) == signal_mix(members, rows)
    assert signal_mix(["a", "b"], cached) == {
        "sig_reasoning_trace_share": 10 * 0.3 + 7 * 1.0,
        "sig_rubric_grading_share": 10 * 0.1,
    }
    assert cached.mix_of("b") is cached.mix_of("b")  # read once
    assert cached["a"] is rows["a"] and len(cached) == 4


def test_established_account_is_not_a_lone_suspect_on_its_own_risk() -> None:
    """Regression (demo-week and slow-and-low seed 1, scale 0.05): an evaluation harness's
    first sweep of GSM8K (1,000-2,000 new prompts in minutes, "solve step by step", a
    verified tier-4 account 820 days old) scored 0.87-0.93 and was the only false positive."""

    def lone(aid: str, *, verified: int, age: float) -> dict[str, object]:
        return {**_row(aid, 1.0, n=1000, age=age), "verified": verified}

    rows = [
        lone("harness", verified=1, age=821.0),
        lone("young", verified=1, age=30.0),
        lone("unverified", verified=0, age=821.0),
    ]
    comm = {str(r["account_id"]): (-1, False) for r in rows}

    def verdicts(cfg: DetectConfig) -> dict[str, tuple[str, float, str]]:
        out, camps = decide(rows, comm, {}, {}, [], AllowList(), datetime.now(UTC), cfg)  # type: ignore[arg-type]
        assert not camps
        return {v.account_id: (v.verdict, v.risk, v.reasons[0]) for v in out}

    got = verdicts(DetectConfig())
    assert got["young"][0] == got["unverified"][0] == "suspect"
    verdict, risk, why = got["harness"]
    assert verdict == "legit" and risk >= 0.85  # the risk is kept for the analyst
    assert why.startswith("not a lone suspect: verified account 821 days old")
    assert verdicts(DetectConfig(established_min_age_days=0))["harness"][0] == "suspect"


#: The four accounts of a crowd's tail (or of an operation inside the crowd) in these tests.
_TAIL = tuple(f"t{i}" for i in range(4))


def _developers(content: float) -> list[dict[str, object]]:
    """Sixty aged, verified developers who do not ask for the max_tokens cap."""
    return [
        {**_row(f"d{i:02d}", content, age=400.0), "verified": 1, "max_tokens_cap_share": 0.0}
        for i in range(60)
    ]


def _young_tail(content: float) -> list[dict[str, object]]:
    """Four young, unverified accounts of the tail, not asking for the cap either."""
    return [{**_row(a, content), "max_tokens_cap_share": 0.0} for a in _TAIL]


def test_the_riskiest_tail_of_a_crowd_is_not_a_campaign() -> None:
    """Regression (a held-out scenario with many developers, scale 0.1: FPR 1.6 %): 467
    developers tied by the same kind of coding prompts formed one community; its 14 youngest,
    unverified members scored as a campaign of their own."""
    crowd, tail = _developers(0.35), _young_tail(0.45)
    assert _decide(crowd + tail) == []
    # Without the test, the tail is a "campaign" (what the scan used to report).
    assert _decide(crowd + tail, DetectConfig(crowd_tail_share=0.0)) == [_TAIL]
    # A small operation inside the same crowd sends far more distillation content than it.
    ops = [_row(f"t{i}", 1.0) for i in range(4)]
    assert _decide(crowd + ops) == [tuple(f"t{i}" for i in range(4))]
    # Regression (demo-week 0.25 seed 4, at 3 % of the release chaser's volume): its first
    # two accounts shared a community with 48 hydra accounts of a request or two each (below
    # the member gate, content 0.98). A core that sends mostly distillation content is an
    # operation, however extraction-heavy the rest of its community is.
    thin = [
        {**_row(f"r{i:02d}", 1.0, n=2, age=30.0), "max_tokens_cap_share": 0.0} for i in range(60)
    ]
    assert _decide(thin + ops) == [tuple(f"t{i}" for i in range(4))]
    # Without that rule, an operation that sends what its crowd sends and does not ask for
    # the max_tokens cap would have no excess to score on.
    plain = [{**r, "max_tokens_cap_share": 0.0} for r in ops]
    assert _decide(thin + plain) == [tuple(f"t{i}" for i in range(4))]
    assert _decide(thin + plain, DetectConfig(crowd_tail_max_content=1.1)) == []


def test_a_crowd_tail_is_judged_on_its_content_in_excess_of_the_crowds() -> None:
    """Regressions at full scale (seed 3). The riskiest young developers of a 3,000-developer
    crowd sent twice the crowd's content share (0.41 against 0.20) and were reported in three
    scenarios (FPR 1.1-1.4 %); a careful release chaser among developers who adopt the new
    model too sent 0.58 against their 0.38 (a ratio of 1.5, "a tail") and was not found. What
    exceeds the crowd's content is counted, and the rest of the score decides."""
    crowd, devs = _developers(0.20), _young_tail(0.41)
    assert _decide(crowd + devs) == []
    assert _decide(crowd + devs, DetectConfig(crowd_tail_share=0.0)) == [_TAIL]
    chasers = [
        {**_row(a, 0.58, age=120.0), "verified": 1, "max_tokens_cap_share": 0.6} for a in _TAIL
    ]
    assert _decide(_developers(0.38) + chasers) == [_TAIL]


def test_a_split_never_leaves_a_one_account_campaign(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (a held-out scenario with five heavy accounts, scale 0.05, seed 2): the
    network split took the heavy account and a developer out of a three-account community;
    the developer left behind was reported as a campaign of one. (Parts this small are no
    longer compared at all, see the next test; the leftover rule is checked without that
    gate.)"""
    stay = {**_row("x", 1.0, age=400.0), "n_ips": 1}
    fleet = [{**_row(f"y{i}", 1.0), "n_ips": 30} for i in range(2)]
    nets = {"x": frozenset({"100"}), "y0": frozenset({"200"}), "y1": frozenset({"201"})}
    assert _decide([stay, *fleet], networks=nets) == [("x", "y0", "y1")]
    monkeypatch.setattr(membership, "MAX_SEPARATION_CHANCE", 1.0)
    assert _decide([stay, *fleet], networks=nets) == [("y0", "y1")]


def test_a_small_fleet_is_not_split_by_chance() -> None:
    """Regression (a held-out scenario, scale 0.25, seed 5): five aged enterprise-tier
    accounts of one operation, one sticky IP each on three datacenter networks, were
    reported as two campaigns (3 + 2, B³-F1 0.68): the two on the other networks happened to
    be the least busy (1.8 and 2.0 requests per active hour against 3.5-17). Three accounts
    against two are completely apart on a random feature one time in five; with six
    features one nearly always "differs"."""
    busy = [{**_row(f"a{i}", 1.0, age=300.0), "events_per_active_hour": 6.0 + 5 * i}
            for i in range(3)]  # fmt: skip
    calm = [{**_row(f"b{i}", 1.0, age=300.0), "events_per_active_hour": 1.8} for i in range(2)]
    for r in busy + calm:
        r["n_ips"] = 1
    nets = {str(r["account_id"]): frozenset({str(r["account_id"])[0]}) for r in busy + calm}
    assert _decide(busy + calm, networks=nets) == [("a0", "a1", "a2", "b0", "b1")]
    assert not separable(3, 2)
    # Five against five are apart by chance once in 126, one account against forty once in
    # 20.5: large enough. Six busy accounts against three calm ones (once in 42) are split.
    assert separable(5, 5) and separable(1, 40) and not separable(1, 30)
    more = [{**r, "account_id": f"{r['account_id']}x"} for r in busy + calm[:1]]
    for r in more:
        nets[str(r["account_id"])] = nets[str(r["account_id"])[:2]]
    assert len(_decide(busy + calm + more, networks=nets)) == 2


def test_two_heavy_accounts_on_one_card_are_found_not_the_crowd_around_them() -> None:
    """Regression (a held-out scenario: five aged, verified accounts on one card harvesting at
    a licensed customer's volume, scale 0.5): the two heavy accounts made the request-weighted
    content of a community of 2,266 developers look like an operation's; the developers'
    tail was reported (36 accounts, FPR 0.8 %) and the heavy pair, left out by the tactic
    gate and below the lone-suspect bar, was missed."""
    crowd = [
        {
            **_row(f"d{i:03d}", 0.45, n=50, age=400.0),
            "verified": 1,
            "max_tokens_cap_share": 0.0,
            "sig_capability_sweep_share": 0.45,
        }
        for i in range(300)
    ]
    tail = [
        {
            **_row(f"t{i:02d}", 0.5, n=50),
            "max_tokens_cap_share": 0.0,
            "sig_capability_sweep_share": 0.5,
        }
        for i in range(20)
    ]
    heavy = [
        {
            **_row(f"h{i}", 1.0, n=10_000, age=60.0),
            "verified": 1,
            "max_tokens_cap_share": 0.0,
            "sig_reasoning_trace_share": 1.0,
            "dup_prompt_share": 0.6,
            "logprobs_share": 0.3,
            "iat_cv": 0.1,
        }
        for i in range(2)
    ]

    def card(members: Sequence[str]) -> list[tuple[str, str]]:
        return [("h0", "h1")] if {"h0", "h1"} <= set(members) else []

    assert _decide(crowd + tail + heavy, identity_pairs=card) == [("h0", "h1")]
    # Without the card tie the pair is below the lone-suspect bar; the tail is still no campaign.
    assert _decide(crowd + tail + heavy) == []


def test_a_campaign_does_not_rest_on_one_heavy_account() -> None:
    """Regression (held-out few-heavy at scale 0.1: the operation is one account): a heavy
    harvester and three young developers its wrappers' popular phrasings tie it to were
    reported as a four-account campaign; the developers alone are no campaign."""
    heavy = {**_row("h", 1.0, n=2_500, age=60.0), "verified": 1, "iat_cv": 0.1}
    devs = [
        {**_row(f"d{i}", 0.25, n=60), "max_tokens_cap_share": 0.0, "verified": 1} for i in range(3)
    ]
    assert _decide([heavy, *devs]) == []
    # The content gate follows the group's requests (the heavy account's), so it keeps the
    # developers out too; with both off they were the campaign.
    assert _decide([heavy, *devs], DetectConfig(lead_account_max_share=1.0)) == []
    both_off = DetectConfig(lead_account_max_share=1.0, member_relative_content=0.0)
    assert _decide([heavy, *devs], both_off) == [("d0", "d1", "d2", "h")]
    assert _decide([heavy, *devs], DetectConfig(member_relative_content=0.0)) == []
    # A hydra with one busy account: the others are a campaign without it, all stay.
    hydra = [_row(f"x{i}", 1.0, n=40) for i in range(5)]
    assert _decide([heavy, *hydra]) == [("h", *(f"x{i}" for i in range(5)))]


def test_content_gate_follows_the_groups_requests_not_its_head_count() -> None:
    """Regression (periodic-sweep at 0.05, seed 2): a capability sweep of two heavy accounts
    (500 requests each, all sweep content) shared wrapper families with three young
    developers (29-103 requests, 22-34 % sweep-like coding prompts); by head count the
    group's median content was a developer's, so two developers became members (FPR 0.45 %)."""
    rows = [
        _row("s0", 1.0, n=500),
        _row("s1", 1.0, n=480),
        _row("d0", 0.34, n=29, age=6.9),
        _row("d1", 0.29, n=89, age=3.2),
        _row("d2", 0.22, n=103, age=5.2),
    ]
    risk = {"s0": 0.71, "s1": 0.66, "d0": 0.36, "d1": 0.355, "d2": 0.237}
    scores = {
        str(r["account_id"]): dataclasses.replace(
            score_account(r, []), risk=risk[str(r["account_id"])]
        )
        for r in rows
    }
    assert _decide(rows, scores=scores) == [("s0", "s1")]
    by_id = {str(r["account_id"]): r for r in rows}
    # by head count the median is 0.34; by requests it is 1.0
    assert content_gate(list(by_id), by_id, 0.8) == pytest.approx(0.8)
    # a group whose requests are mostly its light members' keeps the head-count median
    light = {**by_id, "s0": {**by_id["s0"], "n_events": 5}, "s1": {**by_id["s1"], "n_events": 5}}
    assert content_gate(list(light), light, 0.8) == pytest.approx(0.8 * 0.34)


def _crowd_tail_with_probers(
    prober_events: int,
) -> tuple[list[dict[str, object]], dict[str, AccountScore]]:
    """A crowd's tail: 200 residential users and 30 young developers who do not ask for the
    max_tokens cap (a tail that harvests at the cap would stand out from its crowd on more
    than content), and three clearly risky probers (risk 0.99)."""
    crowd = [{**_row(f"c{i:03d}", 0.3, n=200), "max_tokens_cap_share": 0.0} for i in range(200)]
    devs = [
        {**_row(f"d{i:02d}", 0.35, n=200, age=8.0), "max_tokens_cap_share": 0.0} for i in range(30)
    ]
    probers = [_row(f"p{i}", 1.0, n=prober_events) for i in range(3)]
    rows = crowd + devs + probers
    risk = {"c": 0.1, "d": 0.4, "p": 0.99}
    scores = {
        str(r["account_id"]): dataclasses.replace(
            score_account(r, []), risk=risk[str(r["account_id"])[0]]
        )
        for r in rows
    }
    return rows, scores


def test_identity_tied_anchors_in_a_crowds_tail_are_a_campaign() -> None:
    """Regression (held-out late-burst at 0.25, seed 5): at 5 % of its volume a probing
    operation's first accounts (risk 0.84-1.00, sharing rotating IPs) sat among a hundred
    mildly risky residential users of a 1,600-account community; the core was judged a
    crowd's tail and nothing was reported until 10 %."""
    rows, scores = _crowd_tail_with_probers(20)
    ties = [("p0", "p1"), ("p1", "p2")]

    def pairs_of(members: Sequence[str]) -> list[tuple[str, str]]:
        return [p for p in ties if p[0] in members and p[1] in members]

    assert _decide(rows, scores=scores, identity_pairs=pairs_of) == [("p0", "p1", "p2")]
    # Without an operator's identity tying them, three risky accounts in a crowd's tail are
    # no campaign; nor are identity-tied accounts below the member bar (as risky as the
    # young developers around them).
    assert _decide(rows, scores=scores, identity_pairs=lambda m: []) == []
    low = {**scores, **{f"p{i}": dataclasses.replace(scores[f"p{i}"], risk=0.4) for i in range(3)}}
    assert _decide(rows, scores=low, identity_pairs=pairs_of) == []
    # Nor are identity-tied accounts that are only mildly risky (full scale, eval-crowd: a
    # bar at member_threshold made three campaigns of two legitimate accounts each).
    mild = {**scores, **{f"p{i}": dataclasses.replace(scores[f"p{i}"], risk=0.6) for i in range(3)}}
    assert _decide(rows, scores=mild, identity_pairs=pairs_of) == []


def test_lone_suspects_tied_by_dense_behaviour_in_a_crowds_tail_are_a_campaign() -> None:
    """Regression (benchmarks/bench_detect_random.py, draw 1, scenario 9): five accounts of
    1,000-4,300 requests each, on their own cards and mobile IPs, sending in the same minutes,
    were five lone suspects in a crowd's tail and no campaign."""
    rows, scores = _crowd_tail_with_probers(40)
    ties = [("p0", "p1"), ("p1", "p2"), ("p0", "p2"), ("d00", "d01"), ("d01", "d02")]

    def pairs_of(members: Sequence[str]) -> list[tuple[str, str]]:
        return [p for p in ties if p[0] in members and p[1] in members]

    def no_pairs(members: Sequence[str]) -> list[tuple[str, str]]:
        return []

    got = _decide(rows, scores=scores, identity_pairs=no_pairs, behaviour_pairs=pairs_of)
    assert got == [("p0", "p1", "p2")]  # the developers' ties make no campaign of them
    assert _decide(rows, scores=scores, identity_pairs=no_pairs) == []
    # Three accounts too small to be lone suspects are not grouped by behaviour alone.
    small = [{**r, "n_events": 10} if str(r["account_id"])[0] == "p" else r for r in rows]
    assert _decide(small, scores=scores, identity_pairs=no_pairs, behaviour_pairs=pairs_of) == []


def test_thin_suspects_tied_by_dense_behaviour_are_a_campaign_when_as_many_as_a_crowd() -> None:
    """Regression (benchmarks/bench_detect_random.py, draw 4, scenario 8): 49 one-day
    accounts of a grading and synthetic-data fleet (8 requests each, risk 0.80-0.98, their
    own mobile IPs and cards, tied by their wrapper families and signal profile) sat in a
    3,800-account community judged a crowd's tail; too small to be lone suspects, not one
    was reported. As many such accounts as a family crowd needs are a campaign."""
    rows, scores = _crowd_tail_with_probers(8)
    extra = [_row(f"p{i}", 1.0, n=8) for i in range(3, 5)]
    rows = rows + extra
    scores |= {
        str(r["account_id"]): dataclasses.replace(score_account(r, []), risk=0.95) for r in extra
    }
    # The young developers are risky enough to be in the core with them: a crowd's tail.
    scores |= {a: dataclasses.replace(v, risk=0.6) for a, v in scores.items() if a[0] == "d"}
    probers = [f"p{i}" for i in range(5)]
    ties = [(a, b) for i, a in enumerate(probers) for b in probers[i + 1 :]]

    def pairs_of(members: Sequence[str]) -> list[tuple[str, str]]:
        return [p for p in ties if p[0] in members and p[1] in members]

    def no_pairs(members: Sequence[str]) -> list[tuple[str, str]]:
        return []

    got = _decide(rows, scores=scores, identity_pairs=no_pairs, behaviour_pairs=pairs_of)
    assert got == [tuple(probers)]
    # Four are fewer than a family crowd: nothing.
    four = [r for r in rows if r["account_id"] != "p4"]
    assert _decide(four, scores=scores, identity_pairs=no_pairs, behaviour_pairs=pairs_of) == []
    # Nor are five that are not tied together.
    assert _decide(rows, scores=scores, identity_pairs=no_pairs, behaviour_pairs=no_pairs) == []


def test_a_harness_re_running_a_benchmark_is_not_a_member_of_a_campaign_that_does_not() -> None:
    """Regression (held-out corpora, slow-and-low at 0.05 seed 1: the campaign harvests the
    public benchmark an evaluation harness re-runs): the harness (1,992 requests, 86 %
    reasoning-shaped, 72 % of them repeats of its own prompts; a quarter of the group's
    requests) passed the content gate and was reported with the campaign."""
    fleet = [_row(f"x{i}", 1.0, n=30) for i in range(10)]
    harness = {**_row("h", 0.86, n=1_992, age=821.0), "verified": 1, "dup_prompt_share": 0.72}
    assert _decide([*fleet, harness]) == [tuple(f"x{i}" for i in range(10))]
    # Sending new prompts each time, it would be content like the fleet's.
    fresh = {**harness, "dup_prompt_share": 0.0}
    assert "h" in _decide([*fleet, fresh])[0]
    # A campaign that re-sends its own prompts (a periodic sweep) has no repeat gate.
    sweep = [{**r, "dup_prompt_share": 0.6} for r in fleet]
    assert "h" in _decide([*sweep, harness])[0]
    assert (
        repeat_gate([r["account_id"] for r in fleet], {r["account_id"]: r for r in fleet}, 0.5)
        == 0.5
    )
    assert (
        repeat_gate([r["account_id"] for r in sweep], {r["account_id"]: r for r in sweep}, 0.5) > 1
    )
    assert "h" in _decide([*fleet, harness], DetectConfig(member_max_repeats=0.0))[0]
    # A young account cycling through a short list of attacks repeats too: no gate for it.
    prober = {**harness, "verified": 0, "account_age_days": 5.0}
    assert "h" in _decide([*fleet, prober])[0]


def test_an_established_customer_leading_a_campaign_by_content_alone_is_judged_alone() -> None:
    """Regression (held-out corpora, demo-week at 0.05 seed 1): an evaluation harness (one
    verified account 821 days old, 664 requests) sweeping the public benchmark a residential
    fleet harvests (17 accounts, 1-28 requests each) shared its payload families and signal
    profile, sent half the group's requests, and was reported as a campaign member."""
    fleet = [_row(f"x{i:02d}", 1.0, n=20) for i in range(17)]
    harness = {**_row("h", 0.86, n=664, age=821.0), "verified": 1}
    none: list[tuple[str, str]] = []
    assert _decide([*fleet, harness], identity_pairs=lambda m: none) == [
        tuple(f"x{i:02d}" for i in range(17))
    ]
    # Tied to the fleet by an operator's identity (a card), it stays.
    card = [("h", "x00")]
    assert "h" in _decide([*fleet, harness], identity_pairs=lambda m: card)[0]
    # A young account, or one that does not lead the group's volume, stays too.
    young = {**harness, "account_age_days": 30.0}
    assert "h" in _decide([*fleet, young], identity_pairs=lambda m: none)[0]
    light = {**harness, "n_events": 200}
    assert "h" in _decide([*fleet, light], identity_pairs=lambda m: none)[0]
    # Without identity pairs nothing changes (the caller could not check the ties).
    assert "h" in _decide([*fleet, harness])[0]
