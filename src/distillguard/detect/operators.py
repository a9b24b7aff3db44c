"""Split a campaign that is two operations sharing wrappers: identity ties plus how they operate.

Two actors may buy the same residential proxies and run the same extraction wrappers (a
datacenter hydra of fresh accounts rotating through dozens of networks, and an aged
slow-and-low fleet with one sticky IP per account). Content, networks, signal profiles and
even lockstep coincidences then link them into one community, and ASNs shared through the
common proxy provider defeat the network split of :mod:`distillguard.detect.membership`.

What still tells them apart is what an operator cannot share by accident:

* **identity**: accounts of one operation are tied by payment instruments, exact IPs and
  creation bursts (``identity_split_kinds``). When the campaign's largest identity group
  holds most of it, the members with no identity path to that group are candidates for
  another operation; when no identity group does (the bulk is a fleet without identity
  ties), the largest identity group itself is the candidate (a reseller's few accounts
  behind its shared IPs inside a one-IP-per-account fleet);
* **operations**: the candidates must also *run* differently from the others on at least
  ``identity_split_min_features`` of the operational features in
  :data:`~distillguard.detect.membership.OPERATIONAL` (their interquartile ranges do not
  overlap): how many IPs and networks an account uses, how old it is, how long and on how
  many days it is active, how fast it sends.

Only then, and only when the candidates score as a campaign on their own, is the campaign
split. A single operation whose members simply lack identity ties (each account its own
card and IP) runs alike and stays one campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from distillguard.detect.config import DetectConfig
from distillguard.detect.membership import Pending, operational_differences, split_off
from distillguard.detect.scoring import AccountScore

#: Identity pairs among a set of accounts (a callable so that only campaigns are queried):
#: (a, b) tuples or a table with columns ``a`` and ``b``.
PairsOf = Callable[[Sequence[str]], "Iterable[tuple[str, str]] | pa.Table"]


def identity_components(
    members: Sequence[str], pairs: Iterable[tuple[str, str]] | pa.Table
) -> list[list[str]]:
    """Members grouped by identity ties (transitively), largest group first.

    ``pairs`` is (a, b) tuples or a table with columns ``a`` and ``b`` (what
    :func:`identity_pairs` reads). Pairs naming an account outside ``members`` are ignored.
    Each group keeps the members' order. The components are found on a sparse matrix (a
    campaign of 200,000 accounts at 10 M events has millions of identity ties: building an
    igraph graph of them took 14 s, a union-find in Python longer).
    """
    n = len(members)
    if isinstance(pairs, pa.Table):
        ids = pa.array([str(a) for a in members], pa.string())
        src_a = pc.index_in(pairs.column("a"), value_set=ids)
        dst_a = pc.index_in(pairs.column("b"), value_set=ids)
        both = pc.and_(pc.is_valid(src_a), pc.is_valid(dst_a))
        src = pc.filter(src_a, both).to_numpy(zero_copy_only=False).astype(np.int64)
        dst = pc.filter(dst_a, both).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        get = {a: i for i, a in enumerate(members)}.get
        ends = [(i, j) for a, b in pairs if (i := get(a)) is not None and (j := get(b)) is not None]
        src = np.fromiter((i for i, _ in ends), dtype=np.int64, count=len(ends))
        dst = np.fromiter((j for _, j in ends), dtype=np.int64, count=len(ends))
    matrix = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    groups: dict[int, list[str]] = {}
    for a, label in zip(members, labels.tolist(), strict=True):
        groups.setdefault(label, []).append(a)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def split_by_operator(
    pending: list[Pending],
    pairs_of: PairsOf,
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
) -> dict[int, list[str]]:
    """Split off members with no identity tie to a campaign's main group that operate unlike it.

    Runs in place on ``pending``.

    Returns:
        community id given to each split-off campaign -> the operational features that
        differ (for the campaign's evidence).
    """
    notes: dict[int, list[str]] = {}
    for idx in range(len(pending)):
        members = pending[idx][2]
        n = len(members)
        if n < 2 * cfg.min_campaign_accounts:
            continue
        groups = identity_components(members, pairs_of(members))
        main = groups[0]
        rest = [a for g in groups[1:] for a in g]
        least = max(cfg.min_campaign_accounts, cfg.identity_split_rest * n)
        if len(main) >= cfg.identity_split_main * n:
            # One identity-tied operation holds most of the campaign: the members with no
            # identity path to it are the candidates.
            if len(rest) < least:
                continue
            leave = rest
        else:
            # No identity group holds most of it: the bulk is an operation without identity
            # ties (each account its own card and IP), and the largest identity group, when
            # it operates unlike all the others, is a second operation inside it (a
            # reseller's few accounts behind its shared IPs among a slow-and-low fleet).
            if len(main) < least or len(main) < 2:
                continue
            leave = main
        differ = operational_differences(main, rest, by_id)
        if len(differ) < cfg.identity_split_min_features:
            continue
        new_comm = split_off(pending, idx, leave, by_id, scores, cfg, -2000)
        if new_comm is None:
            continue
        notes[new_comm] = differ
    return notes


def split_by_behaviour(
    pending: list[Pending],
    pairs_of: PairsOf,
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
) -> dict[int, list[str]]:
    """Split a campaign that is two operations tied only by shared infrastructure.

    Two operators behind one reseller share its payment instrument and proxies, so identity
    ties (:func:`split_by_operator`) join them; but nothing they *do* links them: no common
    signal profile, template family, lockstep timing or creation burst
    (``behaviour_split_kinds``). When a campaign's members fall into two or more groups
    without such ties between them, each at least ``behaviour_split_min_share`` of it, a
    group that also operates unlike the largest one (``behaviour_split_min_features``
    operational features) and scores as a campaign on its own becomes one. One operation
    that gives each account a different task still runs its accounts alike (and its
    creation bursts and timing tie them), so it stays one campaign.

    Runs in place on ``pending``.

    Returns:
        community id given to each split-off campaign -> the operational features that
        differ (for the campaign's evidence).
    """
    notes: dict[int, list[str]] = {}
    if cfg.behaviour_split_min_share <= 0:
        return notes
    for idx in range(len(pending)):
        members = pending[idx][2]
        n = len(members)
        if n < 2 * cfg.min_campaign_accounts:
            continue
        least = max(cfg.min_campaign_accounts, cfg.behaviour_split_min_share * n)
        groups = [g for g in identity_components(members, pairs_of(members)) if len(g) >= least]
        if len(groups) < 2:
            continue
        main = groups[0]
        for group in groups[1:]:
            differ = operational_differences(main, group, by_id)
            if len(differ) < cfg.behaviour_split_min_features:
                continue
            new_comm = split_off(pending, idx, group, by_id, scores, cfg, -3000)
            if new_comm is not None:
                notes[new_comm] = differ
    return notes


def identity_pairs(con: Any, kinds: Sequence[str]) -> PairsOf:
    """A :data:`PairsOf` reading ``account_edges`` of the given kinds among the members."""
    kind_list = ", ".join("'" + k.replace("'", "") + "'" for k in kinds)

    def pairs_of(members: Sequence[str]) -> pa.Table:
        if not kind_list or not members:
            return pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string())})
        # The members travel as a registered table (a join), not as an IN list of literals:
        # a campaign can have tens of thousands of them.
        con.register("_op_members", pa.table({"account_id": [str(a) for a in members]}))
        try:
            tbl = con.sql(
                f"SELECT a, b FROM account_edges WHERE kind IN ({kind_list}) "  # noqa: S608
                "AND a IN (SELECT account_id FROM _op_members) "
                "AND b IN (SELECT account_id FROM _op_members)"
            ).to_arrow_table()
        finally:
            con.unregister("_op_members")
        return tbl

    return pairs_of
