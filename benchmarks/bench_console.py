"""Console page render times (server side) over a synthetic store: 25,000 accounts, 10 million
events, a 5,000-account campaign (drawn node per account), a 12,000-account campaign (drawn
aggregated) and 40 small ones. The tables are synthesised directly with DuckDB SQL (not
simulated) in the shapes the scan writes. Prints one table: p50/p95/max per page.

Also measures start-up (summaries built cold into an empty cache folder, then reused warm)
and, in headless Debian chromium (Playwright), each big campaign's first graph view and an
edge click.

    .venv/bin/python benchmarks/bench_console.py [--small] [--reps 40] [--browser-reps 5]
        [--no-browser] [--store DIR]
"""
# ruff: noqa: E501  -- long synthetic-data SQL reads better unwrapped

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from starlette.testclient import TestClient

from distillguard.console.app import create_app
from distillguard.console.config import ConsoleConfig
from distillguard.console.records import ConsoleDecisionLog
from distillguard.console.state import ConsoleState
from distillguard.console.summaries import open_scan
from distillguard.console.web import Console, make_templates
from distillguard.policy.table import DecisionTable, MemoryPublisher

PASSWORD = "benchmark password 123"
#: Select and tap the strongest edge. A function returning nothing: returning the cytoscape
#: collection would make Playwright serialise the whole graph (a minute and more).
NOTES: list[str] = []
TAP_FIRST_EDGE = "() => { const e = window.dgGraph.edges()[0]; e.select(); e.emit('tap'); }"
KINDS = ["payment", "ip", "slash24", "asn_ua", "creation_burst", "family", "lockstep"]


def build(root: Path, accounts: int, events: int, big: int, huge: int) -> None:
    con = duckdb.connect(str(root / "scan.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    t = time.perf_counter()
    con.execute(
        f"""CREATE TABLE events AS SELECT 'e' || r AS event_id,
            TIMESTAMPTZ '2025-03-01 00:00:00+00' + to_seconds(CAST(hash(r) % (42 * 86400) AS BIGINT)) AS ts,
            'acct_' || lpad(CAST((hash(r * 7) % {accounts}) AS VARCHAR), 6, '0') AS account_id,
            'model-' || (r % 3) AS model,
            'dg' || CAST(hash(r * 13) % 200000 AS VARCHAR) AS prompt_digest,
            CASE WHEN r % 50 = 0 THEN 'Explain step by step, item ' || r ELSE NULL END AS prompt_text,
            CAST(100 + r % 400 AS BIGINT) AS input_tokens, CAST(200 + r % 900 AS BIGINT) AS output_tokens
        FROM range({events}) t(r)"""
    )
    con.execute(
        """CREATE TABLE account_features AS SELECT account_id, 'org_' || (hash(account_id) % 9000) AS org_id,
            count(*) AS n_events, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
            min(ts) AS first_seen, max(ts) AS last_seen, 'tier1' AS tier,
            avg(output_tokens) / avg(input_tokens) AS out_in_ratio,
            count(DISTINCT CAST(ts AS DATE)) AS active_days,
            (hash(account_id) % 1000) / 1000.0 AS iat_cv, (hash(account_id || 'h') % 1000) / 1000.0 AS hour_entropy,
            (hash(account_id || 'd') % 1000) / 1000.0 AS distill_share,
            (hash(account_id || 'r') % 1000) / 1000.0 AS rare_family_share,
            (hash(account_id || 'm') % 5) AS n_models, (hash(account_id || 'i') % 40) AS n_ips,
            (hash(account_id || 'a') % 400) AS account_age_days
        FROM events GROUP BY account_id"""
    )
    con.execute(
        f"""CREATE TABLE members AS SELECT account_id,
            CASE WHEN n < {big} THEN 'campaign-001'
                 WHEN n < {big + huge} THEN 'campaign-002'
                 WHEN n < {big + huge + 40 * 50} THEN 'campaign-' || lpad(CAST(3 + (n - {big + huge}) // 50 AS VARCHAR), 3, '0')
            END AS campaign_id
        FROM (SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS n FROM account_features)"""
    )
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    con.execute(
        f"""CREATE TABLE account_edges AS
        WITH m AS (SELECT account_id, campaign_id, row_number() OVER (PARTITION BY campaign_id ORDER BY account_id) AS i
                   FROM members WHERE campaign_id IS NOT NULL),
        p AS (SELECT a.account_id AS x, b.account_id AS y, (o.off + a.i) % 7 AS k
              FROM m a, (SELECT range AS off FROM range(1, 7)) o
              JOIN m b ON b.campaign_id = a.campaign_id AND b.i = a.i + o.off)
        SELECT least(x, y) AS a, greatest(x, y) AS b, ([{kinds}])[k + 1] AS kind,
               0.2 + (hash(x || y) % 80) / 100.0 AS weight, 1 + hash(y) % 9 AS evidence FROM p"""
    )
    con.execute(
        "CREATE TABLE account_graph AS SELECT a, b, sum(weight) AS weight, 0.0 AS behaviour "
        "FROM account_edges GROUP BY a, b"
    )
    con.execute(
        "CREATE TABLE communities AS SELECT account_id, hash(coalesce(campaign_id, account_id)) % 100000 "
        "AS community, campaign_id IS NOT NULL AS core FROM members"
    )
    con.execute(
        "CREATE TABLE prompt_signals AS SELECT DISTINCT prompt_digest, "
        "CAST(hash(prompt_digest) % 500 AS BIGINT) AS family_id FROM events"
    )
    con.execute(
        "CREATE TABLE template_families AS SELECT range AS family_id, 100 AS n_prompts, 50 AS n_accounts, "
        "20 AS n_orgs, 1000 AS n_events, 0.5 AS weight, 'Explain step by step, template ' || range AS example "
        "FROM range(500)"
    )
    rows = con.execute(
        "SELECT campaign_id, list(account_id ORDER BY account_id), min(f.first_seen), max(f.last_seen), "
        "sum(n_events) FROM members JOIN account_features f USING (account_id) "
        "WHERE campaign_id IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    camps = [
        {
            "campaign_id": cid,
            "accounts": accs,
            "risk": round(0.99 - i * 0.01, 3),
            "tactics": [
                {
                    "name": "Reasoning-trace elicitation",
                    "atlas": ["AML.T0024.002"],
                    "share": 0.6,
                    "source": "signal",
                },
                {
                    "name": "AI model inference API access",
                    "atlas": ["AML.T0040"],
                    "share": None,
                    "source": "all",
                },
            ],
            "evidence": {"rules_fired": {"DG-R001": len(accs)}, "distinct_orgs": len(accs) // 2},
            "first_seen": fs.isoformat(),
            "last_seen": ls.isoformat(),
            "volume": int(vol),
            "tokens": int(vol) * 900,
        }
        for i, (cid, accs, fs, ls, vol) in enumerate(rows)
    ]
    (root / "campaigns.json").write_text(json.dumps(camps))
    con.execute(
        f"""COPY (SELECT f.account_id, CASE WHEN m.campaign_id IS NULL THEN 0.1 ELSE 0.9 END AS risk,
            CASE WHEN m.campaign_id IS NULL THEN 'legit' ELSE 'campaign' END AS verdict,
            coalesce(m.campaign_id, '') AS campaign_id, 'synthetic' AS top_reasons
            FROM account_features f LEFT JOIN members m USING (account_id) ORDER BY 1)
            TO '{root / "accounts.csv"}' (HEADER)"""
    )
    n_edges = con.execute("SELECT count(*) FROM account_edges").fetchall()[0][0]
    con.close()
    print(
        f"# built {accounts:,} accounts, {events:,} events, {n_edges:,} edges in "
        f"{time.perf_counter() - t:.1f} s"
    )


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]


def _login(client: TestClient) -> None:
    tok = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert tok is not None
    client.post("/login", data={"csrf": tok.group(1), "username": "bench", "password": PASSWORD})


def browser_times(app: Any, campaigns: list[str], reps: int) -> list[tuple[str, list[float]]]:
    """First view of each campaign's graph in headless Debian chromium, and one edge click.

    Times from navigation start to the graph drawn (``#graph[data-ready]``, set on
    cytoscape's first render after the preset layout), and from the click on an edge to its
    reasons fetched from ``edge.json`` and shown.
    """
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    out: list[tuple[str, list[float]]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/campaigns")
            for cid in campaigns:
                views, clicks, info = [], [], {}
                for _ in range(reps):
                    t = time.perf_counter()
                    page.goto(f"{base}/campaigns/{cid}", wait_until="commit")
                    page.wait_for_selector("#graph[data-ready='1']", timeout=600_000)
                    views.append((time.perf_counter() - t) * 1000)
                    info = page.evaluate(
                        "({n: dgGraph.nodes().length, e: dgGraph.edges().length,"
                        " t: window.dgGraphTimings})"
                    )
                    t = time.perf_counter()
                    page.evaluate(TAP_FIRST_EDGE)
                    page.wait_for_selector("#edge-panel ul", timeout=600_000)
                    clicks.append((time.perf_counter() - t) * 1000)
                label = f"{cid} ({info['n']:,} nodes, {info['e']:,} edges)"
                out.append((f"browser: {label} drawn", views))
                NOTES.append(f"# in-browser split, last view of {cid}: {info['t']}")
                out.append((f"browser: {cid} edge click -> reasons", clicks))
            browser.close()
    finally:
        server.should_exit = True
        th.join(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="2,500 accounts and 1M events")
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--browser-reps", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true", help="skip the chromium step")
    ap.add_argument(
        "--store", type=Path, default=None, help="keep (or reuse) the synthetic store here"
    )
    args = ap.parse_args()
    accounts, events, big, huge = (
        (2_500, 1_000_000, 500, 1_200) if args.small else (25_000, 10_000_000, 5_000, 12_000)
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = args.store or Path(tmp) / "store"
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "scan.duckdb").is_file():
            build(root, accounts, events, big, huge)
        cache = Path(tmp) / "summaries"
        t = time.perf_counter()
        data = open_scan(root / "scan.duckdb", cache_dir=cache)
        cold = time.perf_counter() - t
        timings = dict(data.timings)
        data.close()
        t = time.perf_counter()
        data = open_scan(root / "scan.duckdb", cache_dir=cache)
        warm = time.perf_counter() - t
        assert data.summary_reused
        state = ConsoleState(":memory:")
        state.add_user("bench", "analyst", PASSWORD, actor="bench")
        console = Console(
            ConsoleConfig(),
            data,
            state,
            DecisionTable(MemoryPublisher(), ConsoleDecisionLog(state)),
            make_templates(),
        )
        app = create_app(console)
        client = TestClient(app)
        _login(client)
        acct = data.members("campaign-001")[17]
        links = data.rows(
            "SELECT a, b FROM c_pairs WHERE campaign_id = 'campaign-001' AND rank = 1"
        )[0]
        pages = {
            "queue": "/campaigns",
            "queue search (account id)": f"/campaigns?q={acct}",
            f"campaign ({big:,} accounts)": "/campaigns/campaign-001",
            f"campaign ({huge:,} accounts)": "/campaigns/campaign-002",
            "campaign (50 accounts)": "/campaigns/campaign-010",
            "members page 40": "/campaigns/campaign-002/members?page=40&sort=volume",
            "links page 10": "/campaigns/campaign-001/links?page=10",
            "account": f"/accounts/{acct}",
            f"graph.json ({big:,} nodes)": "/campaigns/campaign-001/graph.json",
            f"graph.json ({huge:,} accounts, aggregated)": "/campaigns/campaign-002/graph.json",
            "edge.json (one edge)": f"/campaigns/campaign-001/edge.json?a={links['a']}&b={links['b']}",
        }
        print(
            f"# start-up summaries: cold (built) {cold:.1f} s {timings}; warm (reused) {warm:.2f} s"
        )
        print(f"{'page':<52} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>7}")
        for name, url in pages.items():
            t = time.perf_counter()
            r = client.get(url)
            first = (time.perf_counter() - t) * 1000
            assert r.status_code == 200, (url, r.status_code)
            times = []
            for _ in range(args.reps):
                t = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"{name:<52} {first:9.0f} {statistics.median(times):8.0f} {_p95(times):8.0f} "
                f"{max(times):8.0f} {len(r.content) / 1024:7.0f}"
            )
        client.close()
        if not args.no_browser:
            for name, times in browser_times(
                app, ["campaign-001", "campaign-002"], args.browser_reps
            ):
                print(
                    f"{name:<52} {times[0]:9.0f} {statistics.median(times[1:] or times):8.0f} "
                    f"{_p95(times[1:] or times):8.0f} {max(times):8.0f} {'':>7}"
                )
            print("\n".join(NOTES))
        data.close()


if __name__ == "__main__":
    main()
