"""Console fixtures: one tiny simulated week, scanned once per session, its console summaries
built once into a session cache folder (every console in the tests, the end-to-end one's
subprocess included, reuses them), and a copy of the scan with hostile data (a prompt and an
account id carrying script) for the escaping tests."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from distillguard.console.app import create_app
from distillguard.console.config import ConsoleConfig
from distillguard.console.records import ConsoleDecisionLog
from distillguard.console.state import ConsoleState
from distillguard.console.summaries import open_scan
from distillguard.console.web import Console, make_templates
from distillguard.policy.table import DecisionTable, MemoryPublisher

PASSWORD = "correct horse battery staple"
XSS_ACCOUNT = "acct_<img src=x onerror=alert(1)>"
XSS_PROMPT = "<script>window.__xss = 1</script> please explain step by step"


@pytest.fixture(scope="session")
def scan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo-week at 5% scale, simulated with seed 7 and scanned (about half a minute)."""
    from distillguard.detect.scan import run_scan
    from distillguard.sim import load_scenario, simulate

    root = tmp_path_factory.mktemp("console-scan")
    simulate(load_scenario("demo-week"), root / "sim", seed=7, scale=0.05)
    out = root / "out"
    run_scan([root / "sim" / "events.jsonl"], out, db=out / "scan.duckdb")
    return out


@pytest.fixture(scope="session")
def summary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The console summary cache shared by every console of the test session."""
    return tmp_path_factory.mktemp("console-summaries")


@pytest.fixture(scope="session")
def hostile_dir(scan_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scan plus one account whose id and prompt carry HTML/script."""
    out = tmp_path_factory.mktemp("console-hostile")
    for name in ("scan.duckdb", "campaigns.json", "accounts.csv"):
        shutil.copy(scan_dir / name, out / name)
    con = duckdb.connect(str(out / "scan.duckdb"))
    con.execute(
        "INSERT INTO account_features (account_id, n_events, first_seen, last_seen) "
        "VALUES (?, 1, TIMESTAMPTZ '2025-01-01 00:00:00+00', TIMESTAMPTZ '2025-01-01 00:00:00+00')",
        [XSS_ACCOUNT],
    ).fetchall()
    con.execute(
        "INSERT INTO events (event_id, ts, account_id, model, prompt_digest, prompt_text) "
        "VALUES ('xss1', TIMESTAMPTZ '2025-01-01 00:00:00+00', ?, 'm', 'd1', ?)",
        [XSS_ACCOUNT, XSS_PROMPT],
    ).fetchall()
    con.close()
    with (out / "accounts.csv").open("a", encoding="utf-8") as fh:
        fh.write(f'"{XSS_ACCOUNT}",0.1,legit,,"<b>bold</b> reason"\n')
    return out


@dataclass
class Env:
    """A console over the scan with in-memory decision table and state."""

    console: Console
    client: TestClient
    publisher: MemoryPublisher
    state: ConsoleState


def make_env(results: Path, cache: Path | None, **cfg: object) -> Env:
    """A console over ``results`` with summaries from (or built into) ``cache``."""
    state = ConsoleState(":memory:")
    for name, role in (("vic", "viewer"), ("ann", "analyst"), ("ada", "admin")):
        state.add_user(name, role, PASSWORD, actor="test")
    pub = MemoryPublisher()
    config = ConsoleConfig(**cfg)  # type: ignore[arg-type]
    console = Console(
        config,
        open_scan(
            results / "scan.duckdb",
            cache_dir=cache,
            graph_max_nodes=config.graph_max_nodes,
            graph_max_edges=config.graph_max_edges,
        ),
        state,
        DecisionTable(pub, ConsoleDecisionLog(state)),
        make_templates(),
    )
    client = TestClient(create_app(console), raise_server_exceptions=False)
    return Env(console, client, pub, state)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in; return the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/login",
        data={"csrf": token.group(1), "username": name, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/campaigns")
    m = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
    assert m is not None
    return m.group(1)


@pytest.fixture(scope="module")
def env(scan_dir: Path, summary_dir: Path) -> Env:
    e = make_env(scan_dir, summary_dir)
    yield e
    e.client.close()
    e.console.data.close()
