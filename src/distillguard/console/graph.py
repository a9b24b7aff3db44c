"""The linking graph of one campaign, in a compact form that cytoscape.js draws as is.

Built once per scan (with the other summaries) and stored as JSON bytes, so a request only
reads them. Up to ``max_nodes`` accounts are drawn one node each, with positions computed
here (igraph Fruchterman-Reingold on a grid, fixed seed, capped iterations) so the browser
uses cytoscape's ``preset`` layout and does no layout work; the strongest ``max_edges``
pairs are sent as parallel integer arrays (endpoints, strongest kind as a small code, a
bit mask of every kind, weight). Reason texts are not repeated per edge: the document
carries a legend (kind code -> reason) and the browser fetches one edge's weights and
evidence on click (``/campaigns/ID/edge.json``). Larger campaigns are aggregated: Leiden
splits the campaign's own subgraph into sub-clusters, each drawn as one node sized by its
accounts, with edges between sub-clusters counting the links by kind.

Document (``v`` 2)::

    {"v": 2, "aggregated": false, "accounts": N, "pairs": P, "nodes": n, "edges": m,
     "edges_dropped": d, "kinds": ["payment", ...], "legend": ["share a payment ...", ...],
     "node": {"id": [...], "x": [...], "y": [...], "risk": [...], "events": [...]},
     "edge": {"s": [...], "t": [...], "k": [...], "m": [...], "w": [...]}}

Aggregated documents replace ``node.id`` with ``label``/``accounts``/``sample``/``inner``
(``[[kind code, links], ...]`` inside the sub-cluster) and add ``edge.c`` (the same per edge).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillguard.console.data import ScanData
from distillguard.detect.linking import EDGE_REASONS

#: Layout iterations (Fruchterman-Reingold); the grid variant above ``GRID_FROM`` nodes.
LAYOUT_ITERATIONS = 300
LAYOUT_ITERATIONS_LARGE = 150
GRID_FROM = 1000
SEED = 7


@dataclass(frozen=True, slots=True)
class GraphData:
    """One campaign's graph document and what was left out of it."""

    doc: dict[str, Any]
    nodes: int
    edges: int
    aggregated: bool
    accounts: int
    pairs: int
    edges_dropped: int

    def body(self) -> bytes:
        """The document as compact JSON bytes."""
        return json.dumps(self.doc, separators=(",", ":")).encode()


def kind_codes(data: ScanData) -> list[str]:
    """Every edge kind: the known reasons first (stable codes), then any other, sorted."""
    seen = {str(r["kind"]) for r in data.rows("SELECT DISTINCT kind FROM c_edges")}
    known = list(EDGE_REASONS)
    return known + sorted(seen - set(known))


def layout(n: int, src: np.ndarray, dst: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Seeded node positions (n x 2) spread over about ``60 * sqrt(n)`` pixels a side."""
    import igraph as ig

    if n == 0:
        return np.zeros((0, 2))
    g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist() if len(src) else [])
    ig.set_random_number_generator(random.Random(seed))
    try:
        if n > GRID_FROM:
            lay = g.layout_fruchterman_reingold(niter=LAYOUT_ITERATIONS_LARGE, grid=True)
        else:
            lay = g.layout_fruchterman_reingold(niter=LAYOUT_ITERATIONS, grid=False)
    finally:
        ig.set_random_number_generator(random)
    xy = np.asarray(lay.coords, dtype=np.float64).reshape(-1, 2)
    span = np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    out: np.ndarray = (xy - xy.min(axis=0)) / span * np.sqrt(n) * 60.0
    return out


def build_graph(
    data: ScanData, campaign_id: str, max_nodes: int, max_edges: int, kinds: list[str]
) -> GraphData:
    """Compute the campaign's graph document (layout included) from the summary tables.

    Args:
        data: the scan (its ``c_member_rows`` and ``c_edges`` summaries must exist).
        campaign_id: the campaign.
        max_nodes: above this many accounts, draw Leiden sub-clusters instead.
        max_edges: send at most this many edges (strongest first).
        kinds: edge kinds in code order (from :func:`kind_codes`).
    """
    nodes = data.rows(
        """SELECT account_id, coalesce(risk, 0) AS risk, coalesce(n_events, 0) AS n
           FROM c_member_rows WHERE campaign_id = ? ORDER BY account_id""",
        [campaign_id],
    )
    edges = data.rows("SELECT a, b, kind, weight FROM c_edges WHERE campaign_id = ?", [campaign_id])
    code = {k: i for i, k in enumerate(kinds)}
    idx = {r["account_id"]: i for i, r in enumerate(nodes)}
    by_pair: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for e in edges:
        i, j = idx.get(e["a"]), idx.get(e["b"])
        if i is not None and j is not None:
            by_pair[(i, j)].append((code[str(e["kind"])], float(e["weight"] or 0.0)))
    head = {
        "v": 2,
        "kinds": kinds,
        "legend": [f"they {EDGE_REASONS.get(k, k.replace('_', ' '))}" for k in kinds],
    }
    if len(nodes) > max_nodes:
        return _aggregate(head, nodes, by_pair, max_edges)
    pairs = sorted(by_pair.items(), key=lambda kv: (-sum(w for _, w in kv[1]), kv[0]))
    kept = pairs[:max_edges]
    src = np.array([i for (i, _), _ in kept], dtype=np.int64)
    dst = np.array([j for (_, j), _ in kept], dtype=np.int64)
    xy = np.rint(layout(len(nodes), src, dst)).astype(np.int64)
    strongest = [max(es, key=lambda e: e[1])[0] for _, es in kept]
    doc = head | {
        "aggregated": False,
        "accounts": len(nodes),
        "pairs": len(by_pair),
        "nodes": len(nodes),
        "edges": len(kept),
        "edges_dropped": len(pairs) - len(kept),
        "node": {
            "id": [str(r["account_id"]) for r in nodes],
            "x": xy[:, 0].tolist(),
            "y": xy[:, 1].tolist(),
            "risk": [round(float(r["risk"]), 2) for r in nodes],
            "events": [int(r["n"]) for r in nodes],
        },
        "edge": {
            "s": src.tolist(),
            "t": dst.tolist(),
            "k": strongest,
            "m": [_mask(c for c, _ in es) for _, es in kept],
            "w": [round(sum(w for _, w in es), 2) for _, es in kept],
        },
    }
    return GraphData(
        doc, len(nodes), len(kept), False, len(nodes), len(by_pair), len(pairs) - len(kept)
    )


def _mask(codes: Any) -> int:
    m = 0
    for c in codes:
        m |= 1 << int(c)
    return m


def _aggregate(
    head: dict[str, Any],
    nodes: list[dict[str, Any]],
    by_pair: dict[tuple[int, int], list[tuple[int, float]]],
    max_edges: int,
) -> GraphData:
    import igraph as ig

    n = len(nodes)
    keys = list(by_pair)
    g = ig.Graph(n=n, edges=keys)
    g.es["weight"] = [sum(w for _, w in by_pair[k]) for k in keys]
    ig.set_random_number_generator(random.Random(SEED))
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
    inner: list[Counter[int]] = [Counter() for _ in range(clusters)]
    cross: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    for (i, j), es in by_pair.items():
        ci, cj = int(memb[i]), int(memb[j])
        for c, _ in es:
            if ci == cj:
                inner[ci][c] += 1
            else:
                cross[(min(ci, cj), max(ci, cj))][c] += 1
    ranked = sorted(cross.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:max_edges]
    src = np.array([a for (a, _), _ in ranked], dtype=np.int64)
    dst = np.array([b for (_, b), _ in ranked], dtype=np.int64)
    xy = np.rint(layout(clusters, src, dst)).astype(np.int64)
    doc = head | {
        "aggregated": True,
        "accounts": n,
        "pairs": len(by_pair),
        "nodes": clusters,
        "edges": len(ranked),
        "edges_dropped": len(cross) - len(ranked),
        "node": {
            "label": [f"{int(s)} accounts" for s in size],
            "accounts": size.tolist(),
            "x": xy[:, 0].tolist(),
            "y": xy[:, 1].tolist(),
            "risk": [round(float(risk[c] / max(size[c], 1)), 3) for c in range(clusters)],
            "events": [int(v) for v in events],
            "sample": [
                [str(nodes[i]["account_id"]) for i in np.flatnonzero(memb == c)[:5]]
                for c in range(clusters)
            ],
            "inner": [[[k, v] for k, v in inner[c].most_common()] for c in range(clusters)],
        },
        "edge": {
            "s": src.tolist(),
            "t": dst.tolist(),
            "k": [kinds.most_common(1)[0][0] for _, kinds in ranked],
            "m": [_mask(kinds) for _, kinds in ranked],
            "w": [float(sum(kinds.values())) for _, kinds in ranked],
            "c": [[[k, v] for k, v in kinds.most_common()] for _, kinds in ranked],
        },
    }
    return GraphData(doc, clusters, len(ranked), True, n, len(by_pair), len(cross) - len(ranked))


def graph_body(data: ScanData, campaign_id: str) -> bytes | None:
    """The stored graph document of a campaign (JSON bytes), or None when there is none."""
    rows = data.rows("SELECT body FROM c_graphs WHERE campaign_id = ?", [campaign_id])
    return bytes(rows[0]["body"]) if rows else None
