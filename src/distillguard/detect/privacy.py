"""Privacy mode: what a campaign must show when the store holds no prompt text.

Without text a scan has no content evidence: an account's own risk comes from the
privacy-mode model (:data:`distillguard.detect.scoring.PRIVACY_WEIGHTS`, fitted on request
metadata alone) and a campaign's from its members' risk, identity ties, age and size
(:data:`~distillguard.detect.scoring.PRIVACY_COMMUNITY_WEIGHTS`). Metadata alone is thin
evidence for a handful of accounts: a business's three accounts share its card and its
cloud egress addresses, and a reseller's customers share its proxies. So in privacy mode a
candidate campaign is reported only when it is large (``privacy_min_campaign_accounts``) or
when its members are tied by identity across organisations (a payment instrument or a
creation burst shared by accounts of different organisations, for at least
``privacy_min_identity_share`` of them): what a fleet of fraudulent sign-ups leaves behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillguard.detect.config import DetectConfig
from distillguard.detect.linking import IDENTITY_KINDS
from distillguard.detect.membership import Pending


def identity_share(
    members: list[str],
    by_id: Mapping[str, Mapping[str, Any]],
    edge_kinds_by_account: Mapping[str, Mapping[str, int]],
) -> float:
    """Share of ``members`` with an identity edge (payment instrument, creation burst) inside
    their community, when they span several organisations (0.0 for one organisation)."""
    if len({by_id[a].get("org_id") or a for a in members}) < 2:
        return 0.0
    tied = sum(
        1 for a in members if any(edge_kinds_by_account.get(a, {}).get(k) for k in IDENTITY_KINDS)
    )
    return tied / len(members)


def drop_thin_campaigns(
    pending: list[Pending],
    by_id: Mapping[str, Mapping[str, Any]],
    edge_kinds_by_account: Mapping[str, Mapping[str, int]],
    cfg: DetectConfig,
) -> list[list[str]]:
    """Remove (in place) the candidate campaigns privacy mode cannot stand behind.

    Returns:
        the members of each campaign removed (they keep their own verdicts).
    """
    kept: list[Pending] = []
    dropped: list[list[str]] = []
    for p in pending:
        members = p[2]
        if len(members) >= cfg.privacy_min_campaign_accounts or (
            identity_share(members, by_id, edge_kinds_by_account) >= cfg.privacy_min_identity_share
        ):
            kept.append(p)
        else:
            dropped.append(members)
    pending[:] = kept
    return dropped
