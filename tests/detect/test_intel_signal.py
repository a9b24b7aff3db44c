"""Peers' intel in the scan: provider A's bundle imported at B flags B's copy of the campaign
from two requests per account, leaves infrastructure-only hits alone, and changes nothing
when the store holds no intel."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detect.intel_signal import (
    AccountIntel,
    IntelSignals,
    PeerGroup,
    evidence_score,
    fold_peer_groups,
    has_intel,
    load_intel_signals,
)
from distillguard.detect.scan import run_scan
from distillguard.errors import ConfigError
from distillguard.intel.config import IntelConfig
from distillguard.intel.export import export_bundle
from distillguard.intel.importer import import_bundle
from distillguard.intel.keys import CommunityKey
from distillguard.intel.match import match_intel
from distillguard.intel.tables import ensure_tables
from distillguard.store import DuckDBStore
from tests.intel.conftest import NOW, PROVIDER_A, load_events

KEY = CommunityKey(bytes(range(32)))
SHARED_IP = "203.0.113.10"  # one of the campaign's proxy IPs at A
ACTOR = ("c-01", "c-02", "c-03", "c-04")  # the actor's accounts that B sees


def _b_events(path: Path, accounts: tuple[str, ...] = ACTOR) -> Path:
    """B's traffic: A's legit users, and the first two requests of four of the actor's six
    accounts under B's own account ids and payment instruments; one legit user exits from a
    proxy IP. (Five or more such accounts on the actor's wrapper are a family crowd that B
    finds alone: see ``test_b_alone_finds_a_crowd_of_five``.)"""
    seen: dict[str, int] = {}
    with (PROVIDER_A / "events.jsonl").open() as fin, path.open("w") as fout:
        for line in fin:
            e = json.loads(line)
            a = e["account_id"]
            if a.startswith("c-"):
                seen[a] = seen.get(a, 0) + 1
                if seen[a] > 2 or a not in accounts:
                    continue
                e["account_id"] = "b-" + a
                e["account"]["payment_fingerprint"] = "b-" + str(
                    e["account"]["payment_fingerprint"]
                )
            elif a == "u-01":
                e["client"]["ip"] = SHARED_IP
            fout.write(json.dumps(e) + "\n")
    return path


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "accounts.csv").open() as fh:
        return {r["account_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A exports, B scans alone, imports A's bundle, matches and scans its store again."""
    tmp = tmp_path_factory.mktemp("intel-scan")
    store_a = DuckDBStore(tmp / "a.duckdb")
    load_events(PROVIDER_A / "events.jsonl", store_a)
    bundle = json.dumps(export_bundle(PROVIDER_A, store_a, KEY, now=NOW).bundle).encode()
    store_a.close()
    alone = run_scan([_b_events(tmp / "b.jsonl")], tmp / "alone")
    db = tmp / "alone" / "scan.duckdb"
    store_b = DuckDBStore(db)
    import_bundle(store_b, bundle, source="provider-a.json", now=NOW)
    match = match_intel(store_b, KEY, now=NOW)
    first_b = store_b.sql("SELECT min(ts) AS t FROM events WHERE account_id LIKE 'b-%'")
    store_b.close()
    with_intel = run_scan(None, tmp / "intel", db=db, intel_config=IntelConfig())
    return {
        "tmp": tmp,
        "db": db,
        "alone": alone,
        "intel": with_intel,
        "match": match,
        "first_b": first_b.to_pylist()[0]["t"],
    }


def test_evidence_weighs_what_identifies_not_how_many() -> None:
    assert evidence_score([("ipv4", 0.5)], 0.4) == pytest.approx(0.4)
    assert evidence_score([("ipv4", 0.5), ("cidr", 0.3), ("asn", 0.1)], 0.4) == pytest.approx(0.4)
    assert evidence_score([("template", 0.7)], 0.4) == pytest.approx(0.7)
    assert evidence_score([("template", 0.7), ("ipv4", 0.5)], 0.4) == pytest.approx(0.82)
    assert evidence_score([("payment", 0.9)], 0.4) == pytest.approx(0.9)
    assert evidence_score([], 0.4) == 0.0


_KINDS = st.sampled_from(
    ["ipv4", "cidr", "asn", "user_agent", "email_domain", "template", "payment"]
)
_HITS = st.lists(st.tuples(_KINDS, st.floats(0.0, 1.0)), max_size=12)


@given(_HITS, st.floats(0.0, 1.0))
def test_evidence_is_bounded_monotone_and_infra_capped(hits, cap) -> None:
    score = evidence_score(hits, cap)
    assert 0.0 <= score <= 1.0
    infra = [h for h in hits if h[0] not in ("template", "payment")]
    assert evidence_score(infra, cap) <= cap + 1e-12
    assert evidence_score([*hits, ("template", 0.7)], cap) >= score - 1e-12


def test_b_alone_misses_the_two_request_accounts(exchange: dict[str, Any]) -> None:
    rows = _rows(exchange["tmp"] / "alone")
    assert all(rows[f"b-{a}"]["verdict"] == "legit" for a in ACTOR)
    assert exchange["alone"].intel is None and exchange["alone"].notes == ()


def test_b_alone_finds_a_crowd_of_five(tmp_path: Path) -> None:
    """Two requests from each of five actor accounts on one rare wrapper: a family crowd
    (``[detect] family_crowd_min_accounts`` = 5 users, ``family_crowd_min_events`` = 5
    requests) that B flags without any intel."""
    five = ACTOR + ("c-05",)
    run_scan([_b_events(tmp_path / "b.jsonl", five)], tmp_path / "out")
    rows = _rows(tmp_path / "out")
    assert {rows[f"b-{a}"]["verdict"] for a in five} == {"campaign"}
    assert {r["verdict"] for a, r in rows.items() if a.startswith("u-")} == {"legit"}


def test_peer_intel_flags_the_campaign_with_provenance(exchange: dict[str, Any]) -> None:
    assert exchange["match"].by_kind.get("template", 0) == 4
    res = exchange["intel"]
    rows = _rows(exchange["tmp"] / "intel")
    actor = [f"b-{a}" for a in ACTOR]
    assert {rows[a]["verdict"] for a in actor} == {"campaign"}
    assert len({rows[a]["campaign_id"] for a in actor}) == 1
    assert all("peer intel from distillguard user" in rows[a]["top_reasons"] for a in actor)
    assert all("prompt template" in rows[a]["top_reasons"] for a in actor)
    assert all(float(rows[a]["risk"]) >= 0.6 for a in actor)
    assert {r["verdict"] for a, r in rows.items() if a.startswith("u-")} == {"legit"}
    camp = json.loads((exchange["tmp"] / "intel" / "campaigns.json").read_text())
    assert len(camp) == 1 and sorted(camp[0]["accounts"]) == actor
    ev = camp[0]["evidence"]
    assert ev["intel"]["producers"] == ["distillguard user"]
    assert ev["intel"]["accounts_strong"] == 4 and ev["intel"]["kinds"]["template"] == 4
    assert ev["edges"]["intel:template"] == 6  # 4 accounts share one fingerprint: 6 pairs
    assert ev["edge_reasons"]["intel:template"].startswith("match the same peer-shared")
    assert ev["rules_fired"].get("dg-peer-intel-match") == 4
    assert res.notes and res.notes[0].startswith("peer intel: ")
    html = (exchange["tmp"] / "intel" / "report.html").read_text()
    assert "Peer intel" in html and "b-c-01" in html


def test_infrastructure_alone_is_weak(exchange: dict[str, Any]) -> None:
    sig = exchange["intel"].intel
    u01 = sig.accounts["u-01"]
    assert u01.template == 0 and u01.identity == 0 and u01.score <= 0.4
    row = _rows(exchange["tmp"] / "intel")["u-01"]
    assert row["verdict"] == "legit" and "infrastructure only" in row["top_reasons"]
    assert all("u-01" not in g.accounts for g in sig.groups)


def test_replay_ignores_hits_first_seen_later(exchange: dict[str, Any]) -> None:
    store = DuckDBStore(exchange["db"])
    try:
        early = exchange["first_b"] - timedelta(seconds=1)
        before = load_intel_signals(store.con, IntelConfig(), until=early)
        later = load_intel_signals(store.con, IntelConfig())
    finally:
        store.close()
    assert before is not None and later is not None
    assert not any(a.startswith("b-") for a in before.accounts)
    assert {f"b-{a}" for a in ACTOR} <= set(later.accounts)


def test_no_intel_rows_changes_nothing(exchange: dict[str, Any], tmp_path: Path) -> None:
    """Empty intel tables: same accounts.csv and campaigns.json as a store without them."""
    events = _b_events(tmp_path / "b.jsonl")
    plain = run_scan([events], tmp_path / "plain")
    store = DuckDBStore(plain.db)
    assert not has_intel(store.con)
    ensure_tables(store)
    store.close()
    empty = run_scan(None, tmp_path / "empty", db=plain.db, intel_config=IntelConfig())
    assert empty.intel is not None and not empty.intel.accounts
    for name in ("accounts.csv", "campaigns.json"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "empty" / name).read_text()


def test_allow_listed_accounts_never_join(exchange: dict[str, Any], tmp_path: Path) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text("entries:\n  - {account: b-c-01, reason: vetted red team}\n")
    run_scan(None, tmp_path / "out", db=exchange["db"], allowlist=allow)
    rows = _rows(tmp_path / "out")
    assert rows["b-c-01"]["verdict"] == "legit"
    assert rows["b-c-02"]["verdict"] == "campaign"


def _signals(groups: tuple[PeerGroup, ...], scores: dict[str, float]) -> IntelSignals:
    accounts = {
        a: AccountIntel(a, s, ("template",), ("peer",), 1, 0, 1, 0, 1) for a, s in scores.items()
    }
    return IntelSignals(accounts, groups, {}, len(scores), None)


def test_fold_extends_the_campaign_holding_the_group() -> None:
    group = PeerGroup("peer", "identity--p", "campaign--x", ("a", "b", "c"))
    pending: list[tuple[float, int, list[str], float]] = [(-50.0, 3, ["a", "z"], 0.9)]
    notes = fold_peer_groups(
        pending, _signals((group,), {"a": 0.8, "b": 0.8, "c": 0.8}), {"a": 1, "b": 2, "c": 3}, {}, 2
    )
    assert pending == [(-55.0, 3, ["a", "b", "c", "z"], 0.9)]
    assert set(notes) == {"b", "c"}


def test_fold_needs_min_accounts_for_a_campaign_of_its_own() -> None:
    group = PeerGroup("peer", "identity--p", "campaign--x", ("a", "b"))
    sig = _signals((group,), {"a": 0.7, "b": 0.9})
    pending: list[tuple[float, int, list[str], float]] = []
    assert fold_peer_groups(pending, sig, {"a": 1, "b": 1}, {"b": object()}, 2) == {}
    assert pending == []
    fold_peer_groups(pending, sig, {"a": 1, "b": 1}, {}, 2)
    assert pending[0][2] == ["a", "b"] and pending[0][3] == 0.9


def test_join_leaves_accounts_without_hits_null() -> None:
    sig = _signals((), {"a": 0.82})
    table = sig.join(pa.table({"account_id": ["a", "b"], "n_events": [3, 4]}))
    assert table.column("intel_score").to_pylist() == [0.82, None]
    assert table.column("intel_template").to_pylist() == [1.0, None]


def test_intel_config_bounds() -> None:
    with pytest.raises(ConfigError, match="infra_cap"):
        IntelConfig(infra_cap=1.5)
    with pytest.raises(ConfigError, match="min_template_prompts"):
        IntelConfig(min_template_prompts=0)
