"""Privacy mode's campaign guard (detect/privacy.py)."""

from __future__ import annotations

from distillguard.detect.config import DetectConfig
from distillguard.detect.membership import Pending
from distillguard.detect.privacy import drop_thin_campaigns, identity_share


def _rows(ids: list[str], org: str | None = None) -> dict[str, dict[str, object]]:
    return {a: {"account_id": a, "org_id": org or f"org-{a}"} for a in ids}


def test_small_groups_need_identity_ties_across_organisations() -> None:
    cfg = DetectConfig(privacy_min_campaign_accounts=10, privacy_min_identity_share=0.5)
    business = [f"b{i}" for i in range(3)]  # one organisation's accounts, one card
    fleet = [f"f{i}" for i in range(4)]  # sign-ups of different "organisations", one card
    loose = [f"l{i}" for i in range(4)]  # different organisations, tied by networks only
    large = [f"x{i:02d}" for i in range(10)]
    by_id = {**_rows(business, "org-b"), **_rows(fleet), **_rows(loose), **_rows(large)}
    kinds: dict[str, dict[str, int]] = {a: {"payment": 2} for a in business + fleet}
    kinds |= {a: {"ip": 3} for a in loose + large}
    kinds["f3"] = {"creation_burst": 1}
    assert identity_share(business, by_id, kinds) == 0.0  # one organisation
    assert identity_share(fleet, by_id, kinds) == 1.0
    assert identity_share(loose, by_id, kinds) == 0.0
    pending: list[Pending] = [
        (-30.0, 0, business, 0.9),
        (-40.0, 1, fleet, 0.9),
        (-40.0, 2, loose, 0.9),
        (-100.0, 3, large, 0.9),
    ]
    dropped = drop_thin_campaigns(pending, by_id, kinds, cfg)
    assert [p[1] for p in pending] == [1, 3]
    assert dropped == [business, loose]


def test_a_community_without_text_is_judged_on_its_members_privacy_risk() -> None:
    """Regression (demo-week, full scale, no text): the release chaser's 55 core accounts
    (privacy-mode risk 0.9, fresh, tied by creation bursts across organisations) scored 0.46
    as a community: the missing content term was counted as "no distillation content"."""
    from distillguard.detect.scoring import (
        ACCOUNT_WEIGHTS,
        PRIVACY_WEIGHTS,
        AccountScore,
        score_community,
    )

    terms = {"cap": 0.0, "logprobs": 0.0, "multi_n": 0.0, "regular": 0.0, "round_clock": 0.0}
    core = [
        {"account_id": f"s{i}", "org_id": f"o{i}", "n_events": 50, "account_age_days": 1.0}
        for i in range(55)
    ]
    text = [AccountScore(0.9, terms, (), ACCOUNT_WEIGHTS) for _ in core]
    privacy = [AccountScore(0.9, terms, (), PRIVACY_WEIGHTS) for _ in core]
    cfg = DetectConfig()
    assert score_community(core, text, 0.0, 1.0).risk < cfg.campaign_threshold
    assert score_community(core, privacy, 0.0, 1.0).risk > 0.9
    # Clean members stay clean either way.
    clean = [AccountScore(0.02, terms, (), PRIVACY_WEIGHTS) for _ in core]
    assert score_community(core, clean, 0.0, 1.0).risk < cfg.campaign_threshold
