"""Linking: an account graph whose edges carry their reasons, and its communities.

Edges are built in SQL from *keys* that accounts share (payment fingerprint, IP, /24, ASN with
user agent, creation burst, rare template family, dominant signal profile) plus lockstep
timing (co-activity in the same time bucket and template family, SynchroTrap/CopyCatch
style). Fan-out is bounded: inside a key shared by ``n`` accounts each account is linked to its
next ``key_fanout`` neighbours in two pseudo-random orders (a sparse expander, ~``2·n·fanout``
edges, never ``n²``); lockstep uses only buckets with at most ``lockstep_max_accounts``.

Communities come from igraph's Leiden (modularity, seeded); communities that Leiden split out
of one dense group are merged back when the weight between them is a large share of the
smaller one's weight.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers and numbers from the config;
# values that come from data are passed as parameters or quoted by the caller.

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillguard.detect.config import DetectConfig, _default_edge_weights
from distillguard.detect.features import EPOCH
from distillguard.detect.unionfind import DisjointSets

#: Edge kinds that come from infrastructure (can be shared by unrelated customers of a
#: reseller) versus behaviour (content and timing: what separates campaign from legit).
INFRA_KINDS: frozenset[str] = frozenset({"payment", "ip", "slash24", "asn_ua", "creation_burst"})
BEHAVIOUR_KINDS: frozenset[str] = frozenset({"family", "lockstep", "signal_profile"})
#: Infrastructure kinds that tie accounts to one operator (not merely a shared network):
#: together with the member's own risk they make it core, which is what lets behaviour-only
#: evidence (privacy mode: no prompt text) find a hydra.
IDENTITY_KINDS: frozenset[str] = frozenset({"payment", "creation_burst"})

EDGE_REASONS: dict[str, str] = {
    "payment": "share a payment instrument",
    "ip": "send from the same IP address",
    "slash24": "send from the same /24 network",
    "asn_ua": "share network (ASN) and client software (user agent)",
    "creation_burst": "were created minutes apart with the same e-mail domain and tier",
    "family": "reuse the same rare prompt template family",
    "lockstep": "send in lockstep (same minutes, same template)",
    "signal_profile": "send mostly the same kind of distillation content",
}


@dataclass(frozen=True, slots=True)
class LinkReport:
    """What :func:`build_edges` and :func:`cluster` produced."""

    edges: int
    edges_by_kind: dict[str, int]
    communities: int
    largest_community: int


def _keys_sql(cfg: DetectConfig, events: str, has_fam: bool, sig_cols: list[str]) -> str:
    burst = max(int(cfg.creation_burst_minutes), 1) * 60
    parts = [
        f"SELECT DISTINCT account_id, 'payment' AS kind, account_payment_fingerprint AS key "
        f"FROM {events} WHERE account_payment_fingerprint IS NOT NULL",
        f"SELECT DISTINCT account_id, 'ip', client_ip FROM {events} WHERE client_ip IS NOT NULL",
        f"SELECT DISTINCT account_id, 'slash24', regexp_extract(client_ip, "
        f"'^(\\d+\\.\\d+\\.\\d+)\\.', 1) FROM {events} WHERE client_ip LIKE '%.%.%.%'",
        f"SELECT DISTINCT account_id, 'asn_ua', CAST(client_asn AS VARCHAR) || '|' || "
        f"client_user_agent FROM {events} WHERE client_asn IS NOT NULL "
        f"AND client_user_agent IS NOT NULL",
        f"SELECT DISTINCT account_id, 'creation_burst', "
        f"CAST(floor({EPOCH.format('account_created_at')} / {burst}) AS VARCHAR) || '|' || "
        f"coalesce(account_email_domain, '') || '|' || coalesce(account_tier, '') "
        f"FROM {events} WHERE account_created_at IS NOT NULL",
    ]
    if has_fam:
        parts.append(
            f"""SELECT account_id, 'family', CAST(family_id AS VARCHAR) FROM (
              SELECT e.account_id, s.family_id, count(*) AS c, count(*) * 1.0
                  / sum(count(*)) OVER (PARTITION BY e.account_id) AS p
              FROM {events} e JOIN prompt_signals s ON s.prompt_digest = e.prompt_digest
              WHERE s.family_id >= 0 GROUP BY e.account_id, s.family_id) x
            WHERE p >= {float(cfg.family_min_share)} AND c >= {int(cfg.family_min_requests)}"""
        )
    if sig_cols:
        # The account's main distillation signals (not the model: campaigns spread over
        # models): its top signal and every other one it sends nearly as often
        # (``signal_profile_min_ratio`` of the top one). With the top signal alone, a fleet
        # that mixes two tactics evenly fell apart by whichever its accounts happened to send
        # more of; the accounts that send both now tie the two halves together.
        # Shares are ratios of small counts (1/4 against 2/4 sits exactly on a ratio of 0.5),
        # and the engines sum them in different orders: the margin keeps such an account on
        # the same side on every engine.
        # Which accounts have a profile at all: 5 requests of which 30 % carry content, or 2
        # of which half do (a thin account of a rotating fleet: one day, a handful of
        # requests). With the first alone, a fleet of thin accounts was tied only by
        # networks and client software in its first days, and flagged late.
        top = f"greatest({', '.join(f'coalesce({d}_share, 0)' for d in sig_cols)})"
        ratio = float(cfg.signal_profile_min_ratio)
        for c in sig_cols:
            parts.append(
                f"""SELECT account_id, 'signal_profile', '{c}' FROM account_features
                WHERE ((distill_share >= 0.3 AND n_events >= 5)
                       OR (distill_share >= 0.5 AND n_events >= 2))
                  AND {c}_share > 0 AND {c}_share >= {ratio} * {top} - 1e-9"""
            )
    return " UNION ALL ".join(f"({p})" for p in parts)


def build_edges(
    con: Any,
    cfg: DetectConfig,
    *,
    events: str = "ev",
    has_fam: bool = False,
    sig_cols: tuple[str, ...] = (),
    prior: str | None = None,
) -> dict[str, int]:
    """Write ``account_edges(a, b, kind, weight, evidence)`` and ``account_graph(a, b, weight,
    behaviour, identity, raw_weight)``; return edges per kind.

    Args:
        con: a DuckDB connection holding ``events`` and ``account_features``.
        cfg: linking knobs.
        events: events table or view.
        has_fam: whether ``prompt_signals.family_id`` and ``template_families`` exist.
        sig_cols: the ``sig_*`` columns of ``prompt_signals``.
        prior: table ``(account_id, suspicion)`` with each account's own suspicion in
            [0, 1]; the graph's weights are scaled by ``floor + (1 - floor) *
            sqrt(s_a * s_b)`` (``edge_suspicion_floor``). None: unscaled.
    """
    weights = {**_default_edge_weights(), **cfg.edge_weights}
    fan = max(int(cfg.key_fanout), 1)
    seed = int(cfg.seed)
    fam_w = (
        "LEFT JOIN template_families tf ON k.kind = 'family' "
        "AND CAST(tf.family_id AS VARCHAR) = k.key"
        if has_fam
        else ""
    )
    fam_strength = "coalesce(tf.weight, 1.0)" if has_fam else "1.0"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _l_keys AS {_keys_sql(cfg, events, has_fam, list(sig_cols))}"
    ).fetchall()
    # Accounts as dense integers (their order is the account ids' order, so ``least`` and
    # ``greatest`` orient a pair the same way): the joins and aggregations below run over
    # tens of millions of pairs at 10 M events, and integer keys keep their hash tables a
    # third of the size of string keys (no spilling to disk under ``memory_limit``).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _l_acc AS
        SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS BIGINT) AS i
        FROM (SELECT DISTINCT account_id FROM _l_keys) x"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _l_kid AS
        SELECT kind, key, CAST(row_number() OVER (ORDER BY kind, key) AS BIGINT) AS kid
        FROM (SELECT DISTINCT kind, key FROM _l_keys) x"""
    ).fetchall()
    # md5, not hash(): the fan-out order must be the same on every engine (Spark parity).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _l_rank AS
        SELECT x.i AS acc, k.kind, d.kid, count(*) OVER (PARTITION BY d.kid) AS n,
          row_number() OVER (PARTITION BY d.kid
              ORDER BY md5(k.account_id || '{seed}a'), k.account_id) AS r1,
          row_number() OVER (PARTITION BY d.kid
              ORDER BY md5(k.account_id || '{seed}b'), k.account_id) AS r2,
          CASE WHEN k.kind = 'family' THEN {fam_strength} ELSE 1.0 END AS base
        FROM _l_keys k JOIN _l_acc x ON x.account_id = k.account_id
          JOIN _l_kid d ON d.kind = k.kind AND d.key = k.key {fam_w}"""
    ).fetchall()
    # The offsets are added before the join (ka) so that the join is a plain equi-join on
    # (kind, key, rank): written as ``b.r1 = a.r1 + o.off`` DuckDB joined on kind alone and
    # filtered 128 M rows at 300k events (12 s; 2.5 s now).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _l_pairs AS
        WITH k AS (SELECT * FROM _l_rank WHERE n BETWEEN 2 AND {int(cfg.key_max_accounts)}),
        o AS (SELECT range AS off FROM range(1, {fan + 1})),
        ka AS (SELECT k.acc, k.kind, k.kid, k.n, k.base, k.r1 + o.off AS t1,
                      k.r2 + o.off AS t2 FROM k, o),
        p AS (
          SELECT a.acc AS x, b.acc AS y, a.kind, a.n, a.base
          FROM ka a JOIN k b ON b.kid = a.kid AND b.r1 = a.t1
          UNION ALL
          SELECT a.acc, b.acc, a.kind, a.n, a.base
          FROM ka a JOIN k b ON b.kid = a.kid AND b.r2 = a.t2)
        SELECT least(x, y) AS a, greatest(x, y) AS b, kind,
          max(base / (1.0 + greatest(log10(n / 10.0), 0))) AS strength,
          count(*) AS evidence
        FROM p WHERE x <> y GROUP BY 1, 2, 3"""
    ).fetchall()
    bucket = max(int(cfg.lockstep_bucket_s), 1)
    fam_join = "LEFT JOIN prompt_signals s ON s.prompt_digest = e.prompt_digest" if has_fam else ""
    # Without template families, co-activity alone is a crowd signal; pair it with the
    # network and client software, and ask for a larger overlap.
    fam_col = (
        "CAST(coalesce(s.family_id, -1) AS VARCHAR)"
        if has_fam
        else "CAST(e.client_asn AS VARCHAR) || '|' || coalesce(e.client_user_agent, '')"
    )
    min_overlap = 0.1 if has_fam else 0.3
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _l_ls AS
        WITH cells AS (
          SELECT DISTINCT x.i AS account_id,
              CAST(floor({EPOCH.format("e.ts")} / {bucket}) AS BIGINT) AS bk, {fam_col} AS fam
          FROM {events} e JOIN _l_acc x ON x.account_id = e.account_id {fam_join}),
        sized AS (SELECT *, count(*) OVER (PARTITION BY bk, fam) AS n,
                         count(*) OVER (PARTITION BY account_id) AS cells_of_account
                  FROM cells),
        small AS (SELECT * FROM sized WHERE n BETWEEN 2 AND {int(cfg.lockstep_max_accounts)})
        SELECT a.account_id AS a, b.account_id AS b, 'lockstep' AS kind,
          count(*) * 1.0 / least(min(a.cells_of_account), min(b.cells_of_account)) AS strength,
          count(*) AS evidence
        FROM small a JOIN small b ON a.bk = b.bk AND a.fam = b.fam AND a.account_id < b.account_id
        GROUP BY 1, 2
        HAVING count(*) >= {int(cfg.lockstep_min_shared)}
           AND count(*) * 1.0 / least(min(a.cells_of_account), min(b.cells_of_account))
               >= {min_overlap}"""
    ).fetchall()
    kind_w = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in sorted(weights.items()))
    behaviour = ", ".join(f"'{k}'" for k in sorted(BEHAVIOUR_KINDS))
    identity = ", ".join(f"'{k}'" for k in sorted(IDENTITY_KINDS))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _l_edges AS
        SELECT a, b, kind, least(strength, 1.0) * (CASE kind {kind_w} ELSE 0.5 END) AS weight,
               evidence
        FROM (SELECT * FROM _l_pairs UNION ALL SELECT * FROM _l_ls) e"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TABLE account_edges AS
        SELECT xa.account_id AS a, xb.account_id AS b, e.kind, e.weight, e.evidence
        FROM _l_edges e JOIN _l_acc xa ON xa.i = e.a JOIN _l_acc xb ON xb.i = e.b"""
    ).fetchall()
    # Guilt by association needs guilt: an edge counts in proportion to how suspicious both
    # of its ends already look on their own, so a campaign's members pull together while a
    # legitimate crowd sharing a NAT, a reseller or a popular template stays loose.
    floor = min(max(float(cfg.edge_suspicion_floor), 0.0), 1.0)
    if prior:
        scale = f"({floor} + {1.0 - floor} * sqrt(pa.suspicion * pb.suspicion))"
        join = (
            f"JOIN {prior} pa ON pa.account_id = xa.account_id "
            f"JOIN {prior} pb ON pb.account_id = xb.account_id"
        )
    else:
        scale, join = "1.0", ""
    con.execute(
        f"""CREATE OR REPLACE TABLE account_graph AS
        SELECT xa.account_id AS a, xb.account_id AS b, g.weight * {scale} AS weight,
               g.behaviour * {scale} AS behaviour, g.identity * {scale} AS identity,
               g.weight AS raw_weight
        FROM (SELECT a, b, sum(weight) AS weight,
                     sum(CASE WHEN kind IN ({behaviour}) THEN weight ELSE 0 END) AS behaviour,
                     sum(CASE WHEN kind IN ({identity}) THEN weight ELSE 0 END) AS identity
              FROM _l_edges GROUP BY a, b) g
          JOIN _l_acc xa ON xa.i = g.a JOIN _l_acc xb ON xb.i = g.b {join}
        WHERE g.weight * {scale} >= {float(cfg.min_edge_weight)}"""
    ).fetchall()
    for t in ("_l_keys", "_l_acc", "_l_kid", "_l_rank", "_l_pairs", "_l_ls", "_l_edges"):
        con.execute(f"DROP TABLE IF EXISTS {t}").fetchall()
    rows = con.execute("SELECT kind, count(*) FROM account_edges GROUP BY kind").fetchall()
    return {str(k): int(n) for k, n in rows}


def _leiden(
    n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, cfg: DetectConfig
) -> np.ndarray:
    import igraph as ig

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(src) == 0:
        return np.arange(n, dtype=np.int64)
    g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=False)
    g.es["weight"] = w.tolist()
    ig.set_random_number_generator(random.Random(cfg.seed))
    try:
        part = g.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=float(cfg.leiden_resolution),
            n_iterations=int(cfg.leiden_iterations),
        )
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(part.membership, dtype=np.int64)


def _merge(
    memb: np.ndarray, src: np.ndarray, dst: np.ndarray, w: np.ndarray, ratio: float
) -> np.ndarray:
    """Merge communities joined by a large share of the smaller one's edge weight."""
    if len(src) == 0:
        return memb
    k = int(memb.max()) + 1
    cu, cv = memb[src], memb[dst]
    strength = np.bincount(cu, weights=w, minlength=k) + np.bincount(cv, weights=w, minlength=k)
    cross = cu != cv
    a, b = np.minimum(cu[cross], cv[cross]), np.maximum(cu[cross], cv[cross])
    if len(a) == 0:
        return memb
    pair = a.astype(np.int64) * k + b
    uniq, inv = np.unique(pair, return_inverse=True)
    tie = np.bincount(inv, weights=w[cross])
    sets: DisjointSets[int] = DisjointSets(range(k))
    order = np.argsort(-tie, kind="stable")
    for i in order:
        x, y = int(uniq[i] // k), int(uniq[i] % k)
        if tie[i] >= ratio * min(strength[x], strength[y]):
            rx, ry = sets.find(x), sets.find(y)
            if rx != ry:  # the smallest community id is the root
                sets.link(max(rx, ry), min(rx, ry))
    roots = np.array([sets.find(i) for i in range(k)], dtype=np.int64)
    _, dense = np.unique(roots, return_inverse=True)
    return np.asarray(dense[memb], dtype=np.int64)


def cluster(con: Any, cfg: DetectConfig) -> int:
    """Write ``communities(account_id, community, core)`` and return the number of communities.

    ``core`` is true for accounts with a behaviour or identity edge (payment, creation burst)
    inside their community; network edges alone (a shared IP, /24, ASN) never make it core.
    A reseller's customers share its payment instrument, so campaign membership also needs
    the account's own risk (:func:`distillguard.detect.campaigns.decide`).
    """
    ids = [
        str(r[0])
        for r in con.execute(
            "SELECT account_id FROM account_features ORDER BY account_id"
        ).fetchall()
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _c_idx AS SELECT account_id, "
        "CAST(row_number() OVER (ORDER BY account_id) - 1 AS BIGINT) AS i FROM account_features"
    ).fetchall()
    # A fixed edge order and weights rounded below float-summation noise: Leiden's result
    # depends on both, and parallel aggregation must not change campaigns between runs.
    tbl = con.sql(
        "SELECT x.i AS u, y.i AS v, round(g.weight, 9) AS weight, "
        "round(g.behaviour + g.identity, 9) AS behaviour "
        "FROM account_graph g "
        "JOIN _c_idx x ON x.account_id = g.a JOIN _c_idx y ON y.account_id = g.b "
        "ORDER BY u, v"
    ).to_arrow_table()
    src = tbl.column("u").to_numpy().astype(np.int64)
    dst = tbl.column("v").to_numpy().astype(np.int64)
    w = tbl.column("weight").to_numpy().astype(np.float64)
    beh = tbl.column("behaviour").to_numpy().astype(np.float64)
    memb = _leiden(len(ids), src, dst, w, cfg)
    memb = _merge(memb, src, dst, w, float(cfg.merge_ratio))
    core = np.zeros(len(ids), dtype=bool)
    inside = (memb[src] == memb[dst]) & (beh >= 0.1) if len(src) else np.zeros(0, dtype=bool)
    core[src[inside]] = True
    core[dst[inside]] = True
    import pyarrow as pa

    con.register(
        "_c_arrow",
        pa.table({"account_id": ids, "community": memb.tolist(), "core": core.tolist()}),
    )
    con.execute("CREATE OR REPLACE TABLE communities AS SELECT * FROM _c_arrow").fetchall()
    con.unregister("_c_arrow")
    con.execute("DROP TABLE IF EXISTS _c_idx").fetchall()
    return int(memb.max()) + 1 if len(memb) else 0
