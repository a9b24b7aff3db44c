"""The linking graph of one campaign, ready for cytoscape.js.

Up to ``max_nodes`` accounts are drawn one node each, with positions computed here (igraph
DrL or Fruchterman-Reingold) so the browser does no layout work; the strongest
``max_edges`` pairs are sent, each carrying every reason it exists. Larger campaigns are
aggregated: Leiden splits the campaign's own subgraph into sub-clusters, each drawn as one
node sized by its accounts, with edges between sub-clusters counting the links by reason.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillguard.console.data import ScanData
from distillguard.console.queries import reason_text
from distillguard.detect.linking import EDGE_REASONS


@dataclass(frozen=True, slots=True)
class GraphData:
    """Elements for cytoscape.js and what was left out."""

    elements: list[dict[str, Any]]
    nodes: int
    edges: int
    aggregated: bool
    accounts: int
    pairs: int
    edges_dropped: int


def _layout(n: int, src: np.ndarray, dst: np.ndarray, seed: int = 7) -> np.ndarray:
    import igraph as ig

    if n == 0:
        return np.zeros((0, 2))
    g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist() if len(src) else [])
    random.seed(seed)
    ig.set_random_number_generator(random.Random(seed))
    try:
        lay = g.layout_drl() if n > 1500 else g.layout_fruchterman_reingold(niter=300)
    finally:
        ig.set_random_number_generator(random)
    xy = np.asarray(lay.coords, dtype=np.float64).reshape(-1, 2)
    span = np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    out: np.ndarray = (xy - xy.min(axis=0)) / span * np.sqrt(n) * 60.0
    return out


def build_graph(data: ScanData, campaign_id: str, max_nodes: int, max_edges: int) -> GraphData:
    """Build (and cache) the campaign's graph elements."""
    return data.cached(  # type: ignore[no-any-return]
        "graph",
        f"{campaign_id}|{max_nodes}|{max_edges}",
        lambda: _build(data, campaign_id, max_nodes, max_edges),
        limit=32,
    )


def _build(data: ScanData, campaign_id: str, max_nodes: int, max_edges: int) -> GraphData:
    nodes = data.rows(
        """SELECT m.account_id, coalesce(v.risk, 0) AS risk, coalesce(f.n_events, 0) AS n
           FROM c_members m LEFT JOIN c_verdicts v USING (account_id)
           LEFT JOIN scan.account_features f USING (account_id)
           WHERE m.campaign_id = ? ORDER BY m.account_id""",
        [campaign_id],
    )
    edges = data.rows(
        "SELECT a, b, kind, weight, evidence FROM c_edges WHERE campaign_id = ?", [campaign_id]
    )
    idx = {r["account_id"]: i for i, r in enumerate(nodes)}
    by_pair: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        i, j = idx.get(e["a"]), idx.get(e["b"])
        if i is not None and j is not None:
            by_pair[(i, j)].append(e)
    if len(nodes) > max_nodes:
        return _aggregate(nodes, by_pair, max_edges)
    pairs = sorted(by_pair.items(), key=lambda kv: -sum(e["weight"] for e in kv[1]))
    kept = pairs[:max_edges]
    src = np.array([i for (i, _), _ in kept], dtype=np.int64)
    dst = np.array([j for (_, j), _ in kept], dtype=np.int64)
    xy = _layout(len(nodes), src, dst)
    elements: list[dict[str, Any]] = []
    for i, r in enumerate(nodes):
        elements.append(
            {
                "data": {
                    "id": f"n{i}",
                    "label": r["account_id"],
                    "account": r["account_id"],
                    "risk": round(float(r["risk"]), 3),
                    "events": int(r["n"]),
                },
                "position": {"x": round(float(xy[i, 0]), 1), "y": round(float(xy[i, 1]), 1)},
            }
        )
    for k, ((i, j), es) in enumerate(kept):
        es = sorted(es, key=lambda e: -e["weight"])
        elements.append(
            {
                "data": {
                    "id": f"e{k}",
                    "source": f"n{i}",
                    "target": f"n{j}",
                    "a": nodes[i]["account_id"],
                    "b": nodes[j]["account_id"],
                    "kind": es[0]["kind"],
                    "kinds": [e["kind"] for e in es],
                    "weight": round(sum(e["weight"] for e in es), 3),
                    "reasons": [reason_text(e["kind"], e["weight"], e["evidence"]) for e in es],
                }
            }
        )
    return GraphData(
        elements,
        len(nodes),
        len(kept),
        False,
        len(nodes),
        len(by_pair),
        len(pairs) - len(kept),
    )


def _aggregate(
    nodes: list[dict[str, Any]],
    by_pair: dict[tuple[int, int], list[dict[str, Any]]],
    max_edges: int,
) -> GraphData:
    import igraph as ig

    n = len(nodes)
    keys = list(by_pair)
    w = [sum(e["weight"] for e in by_pair[k]) for k in keys]
    g = ig.Graph(n=n, edges=keys)
    g.es["weight"] = w
    ig.set_random_number_generator(random.Random(7))
    try:
        memb = np.asarray(
            g.community_leiden(objective_function="modularity", weights="weight").membership
        )
    finally:
        ig.set_random_number_generator(random)
    clusters = int(memb.max()) + 1 if n else 0
    size = np.bincount(memb, minlength=clusters)
    events = np.bincount(memb, weights=[float(r["n"]) for r in nodes], minlength=clusters)
    risk = np.bincount(memb, weights=[float(r["risk"]) for r in nodes], minlength=clusters)
    inner: list[Counter[str]] = [Counter() for _ in range(clusters)]
    cross: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for (i, j), es in by_pair.items():
        ci, cj = int(memb[i]), int(memb[j])
        for e in es:
            if ci == cj:
                inner[ci][e["kind"]] += 1
            else:
                cross[(min(ci, cj), max(ci, cj))][e["kind"]] += 1
    ranked = sorted(cross.items(), key=lambda kv: -sum(kv[1].values()))[:max_edges]
    src = np.array([a for (a, _), _ in ranked], dtype=np.int64)
    dst = np.array([b for (_, b), _ in ranked], dtype=np.int64)
    xy = _layout(clusters, src, dst)
    elements: list[dict[str, Any]] = []
    for c in range(clusters):
        sample = [nodes[i]["account_id"] for i in np.flatnonzero(memb == c)[:5]]
        elements.append(
            {
                "data": {
                    "id": f"c{c}",
                    "label": f"{int(size[c])} accounts",
                    "cluster": c,
                    "accounts": int(size[c]),
                    "sample": sample,
                    "risk": round(float(risk[c] / max(size[c], 1)), 3),
                    "events": int(events[c]),
                    "inner": _kind_text(inner[c]),
                },
                "position": {"x": round(float(xy[c, 0]), 1), "y": round(float(xy[c, 1]), 1)},
            }
        )
    for k, ((a, b), kinds) in enumerate(ranked):
        elements.append(
            {
                "data": {
                    "id": f"x{k}",
                    "source": f"c{a}",
                    "target": f"c{b}",
                    "kind": kinds.most_common(1)[0][0],
                    "kinds": [kk for kk, _ in kinds.most_common()],
                    "weight": float(sum(kinds.values())),
                    "reasons": _kind_text(kinds),
                }
            }
        )
    return GraphData(
        elements, clusters, len(ranked), True, n, len(by_pair), len(cross) - len(ranked)
    )


def _kind_text(kinds: Counter[str]) -> list[str]:
    return [f"{n} links: they {EDGE_REASONS.get(k, k)}" for k, n in kinds.most_common()]
