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

import igraph as ig
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from distillguard.detect.config import DetectConfig
from distillguard.detect.membership import (
    OPERATIONAL,
    Pending,
    operator_differences,
    separable,
    split_off,
)
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
    return _components(members, *_member_index(members, pairs))


def _components(members: Sequence[str], src: np.ndarray, dst: np.ndarray) -> list[list[str]]:
    n = len(members)
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
        # After a split, what stays behind is examined again: three operations linked into
        # one campaign by shared wrappers leave two behind when the first is split off (a
        # one-card fleet split from two others that then stayed one campaign; a drawn
        # scenario of benchmarks/bench_detect_random.py). Each split takes members away;
        # when it took all but the main identity group, nothing is left to split.
        while done := _split_operator_once(pending, idx, pairs_of, by_id, scores, cfg):
            new_comm, differ, again = done
            notes[new_comm] = differ
            if not again:
                break
    return notes


def _split_operator_once(
    pending: list[Pending],
    idx: int,
    pairs_of: PairsOf,
    by_id: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, AccountScore],
    cfg: DetectConfig,
) -> tuple[int, list[str], bool] | None:
    """One split of :func:`split_by_operator` on ``pending[idx]``: the new campaign's
    community id, the features that differ and whether what stays behind can hold another
    operation (more than one identity group), or None."""
    members = pending[idx][2]
    n = len(members)
    if n < 2 * cfg.min_campaign_accounts:
        return None
    groups = identity_components(members, pairs_of(members))
    main = groups[0]
    rest = [a for g in groups[1:] for a in g]
    least = max(cfg.min_campaign_accounts, cfg.identity_split_rest * n)
    if len(main) >= cfg.identity_split_main * n:
        # One identity-tied operation holds most of the campaign: the members with no
        # identity path to it are the candidates.
        if len(rest) < least:
            return None
        differ = operator_differences(main, rest, by_id)
        if not operates_apart(differ, cfg):
            return None
        new_comm = split_off(pending, idx, rest, by_id, scores, cfg, -2000)
        return None if new_comm is None else (new_comm, differ, False)
    # No identity group holds most of it: the bulk is an operation without identity ties
    # (each account its own card and IP), and an identity group that operates unlike all the
    # others is a second operation inside it (a reseller's few accounts behind its shared
    # IPs among a slow-and-low fleet). The largest group is tied within by identity, not a
    # pool of stragglers, so the share floor does not apply to it: six accounts rotating
    # through a dozen residential networks each inside a 959-account fleet of one-IP
    # accounts were 0.6 % of it. The others need ``identity_split_rest`` of the campaign:
    # a 45-account operation on one datacenter pool, the second largest identity group of
    # a 209-account campaign, ran unlike the rest but was never compared (both drawn
    # scenarios of benchmarks/bench_detect_random.py).
    for group in groups:
        if len(group) < max(cfg.min_campaign_accounts, 2):
            break
        if group is not main and len(group) < least:
            break
        if not separable(n - len(group), len(group)):
            continue
        inside = set(group)
        differ = operator_differences(group, [a for a in members if a not in inside], by_id)
        if not operates_apart(differ, cfg):
            continue
        new_comm = split_off(pending, idx, group, by_id, scores, cfg, -2000)
        if new_comm is not None:
            return new_comm, differ, True
    return None


def operates_apart(differ: Sequence[str], cfg: DetectConfig) -> bool:
    """Whether the operational differences between two parts are enough for the operator
    split: ``identity_split_min_features`` of them, or other working hours alone.

    Working other hours of the day is enough on its own, as in the behaviour split: two
    fleets on the same kind of rotating networks, tied to each other only by content that
    reads alike, with no card, address or sign-up burst in common, are two operators when
    their hours differ. A minimum above the number of features (the operational ones and
    the pace) still disables the split.
    """
    need = cfg.identity_split_min_features
    if len(differ) >= need:
        return True
    return "hour_center" in differ and need <= len(OPERATIONAL) + 1


def _member_index(
    members: Sequence[str], pairs: Iterable[tuple[str, str]] | pa.Table
) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of each pair among ``members`` as indexes into ``members`` (int64 arrays);
    pairs naming an account outside ``members`` are left out."""
    if isinstance(pairs, pa.Table):
        ids = pa.array([str(a) for a in members], pa.string())
        src_a = pc.index_in(pairs.column("a"), value_set=ids)
        dst_a = pc.index_in(pairs.column("b"), value_set=ids)
        both = pc.and_(pc.is_valid(src_a), pc.is_valid(dst_a))
        src = pc.filter(src_a, both).to_numpy(zero_copy_only=False).astype(np.int64)
        dst = pc.filter(dst_a, both).to_numpy(zero_copy_only=False).astype(np.int64)
        return src, dst
    get = {a: i for i, a in enumerate(members)}.get
    ends = [(i, j) for a, b in pairs if (i := get(a)) is not None and (j := get(b)) is not None]
    src = np.fromiter((i for i, _ in ends), dtype=np.int64, count=len(ends))
    dst = np.fromiter((j for _, j in ends), dtype=np.int64, count=len(ends))
    return src, dst


def supported_pairs(
    members: Sequence[str], pairs: Iterable[tuple[str, str]] | pa.Table
) -> list[tuple[str, str]]:
    """The pairs among ``members`` whose two accounts have another neighbour in common
    (each pair once, ``members``' order inside it, sorted by it).

    Ties of one operation come in dense groups (the accounts sharing a template family, a
    signal profile or a sign-up burst are each tied to their next ``key_fanout`` others in
    two orders, so a tie closes triangles with the others of its key). A tie between two
    operations by chance (a grader and a reasoner that happened to sign up in the same ten
    minutes, or to send one prompt of the same family) closes none, and alone it made the
    two one component. A tie that is one of its accounts' only tie is kept too: two
    accounts tied only to each other are a group (an operation of two accounts at small
    scale), and one thin account tied by chance joins a group without merging two.
    Neighbourhood overlaps are computed by igraph in C (``similarity_jaccard`` over the
    pairs); with ``key_fanout`` 1 few ties close a triangle, and the behaviour split then
    finds few groups to split.
    """
    ends = _supported(len(members), *_member_index(members, pairs))
    return [(members[i], members[j]) for i, j in ends.tolist()]


def _supported(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """:func:`supported_pairs` on member indexes: an (m, 2) array, each pair once, sorted."""
    keep = src != dst
    ends = np.unique(np.sort(np.stack([src[keep], dst[keep]], axis=1), axis=1), axis=0)
    if len(ends) == 0:
        return ends
    graph = ig.Graph(n=n, edges=ends)
    overlap = np.asarray(graph.similarity_jaccard(pairs=ends, loops=False), dtype=np.float64)
    degree = np.asarray(graph.degree(), dtype=np.int64)
    only_tie = np.minimum(degree[ends[:, 0]], degree[ends[:, 1]]) == 1
    kept: np.ndarray = ends[(overlap > 0) | only_tie]
    return kept


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
    without such ties between them (ties by chance, which close no triangle, do not count:
    :func:`supported_pairs`), each at least ``behaviour_split_min_share`` of it, a group
    that also operates unlike the largest one (``behaviour_split_min_features``
    operational features) or works other hours of the day
    (:func:`~distillguard.detect.membership.hours_apart`) and scores as a campaign on its
    own becomes one. One operation that gives each account a different task still runs its
    accounts alike, in its operator's working day (and its creation bursts and timing tie
    them), so it stays one campaign.

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
        ties = _supported(n, *_member_index(members, pairs_of(members)))
        groups = [g for g in _components(members, ties[:, 0], ties[:, 1]) if len(g) >= least]
        if len(groups) < 2:
            continue
        main = groups[0]
        for group in groups[1:]:
            differ = operator_differences(main, group, by_id)
            if len(differ) < cfg.behaviour_split_min_features and "hour_center" not in differ:
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
