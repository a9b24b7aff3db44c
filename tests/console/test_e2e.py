"""End to end in Debian's chromium: log in, open the top campaign, read why an edge exists,
suspend the campaign, and see the real gateway (real redis-server, stand-in upstream)
refuse the next request from one of its accounts' keys. Saves screenshots to docs/images/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillguard.console.state import ConsoleState

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
SECRET = "console-e2e-secret-0123456789"
#: Select and tap the strongest edge. A function returning nothing: returning the cytoscape
#: collection would make Playwright serialise the whole graph (a minute and more).
TAP_FIRST_EDGE = "() => { const e = window.dgGraph.edges()[0]; e.select(); e.emit('tap'); }"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _helpers() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from gateway import helpers
    finally:
        sys.path.pop(0)
    return helpers


@pytest.fixture(scope="module")
def stack(
    scan_dir: Path, summary_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    h = _helpers()
    redis_bin = h.require_binary("redis-server")
    h.require_binary("chromium")
    pytest.importorskip("playwright.sync_api")
    import redis

    from distillguard.console.summaries import open_scan
    from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend

    # the console subprocess reuses these summaries (a warm start), as a restart would
    data = open_scan(scan_dir / "scan.duckdb", cache_dir=summary_dir)
    top = max(data.campaigns.values(), key=lambda c: (c.risk, c.volume))
    member = data.members(top.campaign_id)[0]
    data.close()
    tmp = tmp_path_factory.mktemp("console-e2e")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rport, uport, gport, cport = (h.free_port() for _ in range(4))
        procs.append(h.start_redis(redis_bin, rport))
        procs.append(h.start_cli(["upstream", "--port", str(uport)], {}, uport))
        redis_url = f"redis://127.0.0.1:{rport}/0"
        gw_env = {
            "DISTILLGUARD_GATEWAY_REDIS_URL": redis_url,
            "DISTILLGUARD_GATEWAY_KEY_SECRET": SECRET,
            "DISTILLGUARD_GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{uport}",
            "DISTILLGUARD_GATEWAY_SPOOL_DIR": str(tmp / "spool"),
            "DISTILLGUARD_GATEWAY_SINK": "false",
            "DISTILLGUARD_GATEWAY_POLICY_REFRESH_S": "0.1",
        }
        procs.append(h.start_cli(["serve", "--port", str(gport)], gw_env, gport))
        state = tmp / "console.sqlite3"
        st = ConsoleState(state)
        st.add_user("ann", "analyst", PASSWORD, actor="test")
        st.close()
        procs.append(
            h.start_cli(
                [
                    "console",
                    "--db",
                    str(scan_dir / "scan.duckdb"),
                    "--port",
                    str(cport),
                    "--state",
                    str(state),
                ],
                {
                    "DISTILLGUARD_CONSOLE_REDIS_URL": redis_url,
                    "DISTILLGUARD_CONSOLE_CACHE_DIR": str(summary_dir),
                },
                cport,
            )
        )
        client = redis.Redis.from_url(redis_url)
        admin = KeyAdmin(RedisKeyBackend(client), SECRET.encode())
        yield {
            "gateway": gport,
            "console": cport,
            "admin": admin,
            "client": client,
            "top": top.campaign_id,
            "member": member,
        }
        client.close()
    finally:
        for p in reversed(procs):
            h.stop(p)


def _chat(port: int, key: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json={"model": "standin-1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_analyst_suspends_campaign_and_gateway_refuses(stack: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    top, member = stack["top"], stack["member"]
    key = stack["admin"].create(member, actor="test").raw_key
    assert _chat(stack["gateway"], key).status_code == 200

    IMAGES.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{stack['console']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            page.goto(f"{base}/campaigns")
            assert "/login" in page.url
            page.fill("input[name=username]", "ann")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/campaigns")
            page.screenshot(path=str(IMAGES / "console-queue.png"))

            page.click("table.queue tbody tr:first-child a")
            page.wait_for_url(f"{base}/campaigns/{top}")
            page.wait_for_selector("#graph[data-ready='1']", timeout=30000)
            page.evaluate(TAP_FIRST_EDGE)
            # the reasons come from the legend at once, then weights and evidence from
            # edge.json for this one edge
            page.wait_for_selector("#edge-panel ul.edge-detail li")
            panel = page.inner_text("#edge-panel")
            assert "are linked" in panel and "they " in panel
            assert "shared" in page.inner_text("#edge-panel ul.edge-detail")
            page.locator("#graph").scroll_into_view_if_needed()
            page.screenshot(path=str(IMAGES / "console-campaign-graph.png"))
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(IMAGES / "console-campaign.png"))

            page.click("#links a.why >> nth=0")
            page.wait_for_selector("ul.reasons-list")
            assert "they " in page.inner_text("ul.reasons-list")
            page.go_back()

            page.select_option("#action-select", "suspend")
            page.fill("#action-form input[name=reason]", "confirmed distillation campaign")
            page.click("#action-form button[type=submit]")
            page.wait_for_selector("p.note")
            assert "Suspend" in page.inner_text("p.note")

            deadline = time.monotonic() + 15
            while True:
                r = _chat(stack["gateway"], key)
                if r.status_code == 403 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "account_blocked"

            page.click(f"a[href='/accounts/{member}'] >> nth=0")
            page.wait_for_selector(".chart svg", timeout=30000)
            assert "block" in page.inner_text("dl.facts")
            page.screenshot(path=str(IMAGES / "console-account.png"))
            assert not errors, errors
        finally:
            browser.close()
    assert os.path.getsize(IMAGES / "console-campaign-graph.png") > 10_000
