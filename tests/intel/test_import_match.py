from __future__ import annotations

import json
from datetime import UTC

import pytest

from distillguard.intel.bundle import BundleRejected, check_bundle
from distillguard.intel.export import export_bundle
from distillguard.intel.importer import import_bundle
from distillguard.intel.keys import CommunityKey
from distillguard.intel.match import match_intel
from distillguard.store import DuckDBStore
from tests.intel.conftest import NOW, PROVIDER_A, load_events


@pytest.fixture()
def bundle_bytes(store_a, key) -> bytes:
    return json.dumps(export_bundle(PROVIDER_A, store_a, key, now=NOW).bundle).encode()


@pytest.fixture()
def store_b(tmp_path):
    store = DuckDBStore(tmp_path / "b.duckdb")
    load_events(PROVIDER_A / "events.jsonl", store)
    yield store
    store.close()


def _signals(store):
    return {
        r["account_id"]: r for r in store.sql("SELECT * FROM intel_account_signals").to_pylist()
    }


def test_import_lands_with_provenance(store_b, bundle_bytes):
    res = import_bundle(store_b, bundle_bytes, source="peer.json", now=NOW)
    assert res.rejected == 0 and res.accepted == res.objects and res.indicators >= 10
    row = store_b.sql("SELECT * FROM intel_bundles").to_pylist()[0]
    assert row["source"] == "peer.json" and row["tlp"] == "amber"
    assert row["producer_name"] == "distillguard user"


def test_matches_campaign_accounts_only(store_b, bundle_bytes, key):
    import_bundle(store_b, bundle_bytes, now=NOW)
    res = match_intel(store_b, key, now=NOW)
    sig = _signals(store_b)
    assert sorted(sig) == [f"c-{i:02d}" for i in range(1, 7)]
    assert {"account", "payment", "ipv4", "cidr", "template"} <= set(res.by_kind)
    assert all(r["score"] > 0.99 for r in sig.values())


def test_other_key_cannot_match(store_b, bundle_bytes):
    import_bundle(store_b, bundle_bytes, now=NOW)
    res = match_intel(store_b, CommunityKey(b"z" * 32), now=NOW)
    assert res.hits == 0 and res.other_key > 0


def test_expired_indicators_ignored(store_b, bundle_bytes, key):
    import_bundle(store_b, bundle_bytes, now=NOW)
    later = NOW.replace(year=NOW.year + 1)
    assert match_intel(store_b, key, now=later).hits == 0


def test_template_matches_without_shared_identifiers(tmp_path, bundle_bytes, key):
    # Provider B sees the same wrapper from fresh accounts on fresh infrastructure.
    lines = []
    for line in (PROVIDER_A / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["account_id"].startswith("c-"):
            e["account_id"] = "b-" + e["account_id"]
            e["client"] = {"ip": "192.0.2.77", "user_agent": "curl/8.0"}
            e["account"] = {"payment_fingerprint": "pm_other"}
            e["prompt"] = e["prompt"].replace("Solve the following problem.", "Please solve this.")
        lines.append(json.dumps(e))
    (tmp_path / "b.jsonl").write_text("\n".join(lines))
    store = DuckDBStore(tmp_path / "b2.duckdb")
    load_events(tmp_path / "b.jsonl", store)
    import_bundle(store, bundle_bytes, now=NOW)
    res = match_intel(store, key, now=NOW)
    assert set(res.by_kind) == {"template"}
    assert sorted(_signals(store)) == [f"b-c-{i:02d}" for i in range(1, 7)]
    store.close()


def test_template_matching_needs_text(tmp_path, bundle_bytes, key):
    store = DuckDBStore(tmp_path / "notext.duckdb")
    load_events(PROVIDER_A / "events.jsonl", store, keep_text=False)
    import_bundle(store, bundle_bytes, now=NOW)
    res = match_intel(store, key, now=NOW)
    assert res.templates_skipped_no_text and "template" not in res.by_kind
    store.close()


def test_reimport_is_idempotent(store_b, bundle_bytes, key):
    import_bundle(store_b, bundle_bytes, now=NOW)
    again = import_bundle(store_b, bundle_bytes, now=NOW)
    assert again.duplicate_bundle and again.values == 0
    first = match_intel(store_b, key, now=NOW).hits
    assert first == match_intel(store_b, key, now=NOW).hits


# --- bad and malicious bundles -------------------------------------------------------------


def _b(objects, **extra):
    return json.dumps(
        {
            "type": "bundle",
            "id": "bundle--6f1c0a8e-2b7d-4c39-9e51-0d2a3b4c5d6e",
            "objects": objects,
            **extra,
        }
    ).encode()


IND = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2025-01-01T00:00:00.000Z",
    "modified": "2025-01-01T00:00:00.000Z",
    "pattern": "[ipv4-addr:value = '198.51.100.20']",
    "pattern_type": "stix",
    "valid_from": "2025-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * 2000, "over the 1000-byte limit"),
        (b"{not json", "not valid JSON"),
        (b"[" * 600 + b"]" * 600, "nested deeper"),
        (json.dumps({"type": "bundle", "id": "bundle--1", "objects": []}).encode(), "bundle id"),
        (_b([], spec_version="2.0"), "STIX 2.0"),
        (json.dumps({"type": "report"}).encode(), "not a STIX bundle"),
        (_b([IND] * 5), "over the 4-object limit"),
    ],
)
def test_whole_bundle_refused_with_reason(data, reason):
    with pytest.raises(BundleRejected, match=reason):
        check_bundle(
            data, max_bytes=1000 if len(data) == 2000 else 10**6, max_objects=4, max_depth=32
        )


def test_deep_nesting_inside_object_refused():
    deep: dict = {}
    cur = deep
    for _ in range(50):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(BundleRejected, match="nested deeper than 32"):
        check_bundle(_b([{**IND, "x_deep": deep}]))


def test_bad_objects_rejected_others_imported(store_b, key):
    bad_pattern = {
        **IND,
        "id": "indicator--1b0e6c2a-4d8f-4a71-9c3e-5f6a7b8c9d0e",
        "pattern": "[ipv4-addr:value = '1.2.3.4'",
    }
    old = {**IND, "id": "indicator--2c1f7d3b-5e9a-4b82-8d4f-6a7b8c9d0e1f", "spec_version": "2.0"}
    unknown = {
        "type": "weird-thing",
        "spec_version": "2.1",
        "id": "weird-thing--3d2a8e4c-6fab-4c93-9e5a-7b8c9d0e1f2a",
        "created": "2025-01-01T00:00:00Z",
    }
    bad_id = {**IND, "id": "indicator--nope"}
    unsupported = {
        **IND,
        "id": "indicator--4e3b9f5d-7abc-4da4-8f6b-8c9d0e1f2a3b",
        "pattern": "[ipv4-addr:value = '198.51.100.20'] WITHIN 5 SECONDS",
    }
    res = import_bundle(
        store_b, _b([IND, IND, bad_pattern, old, unknown, bad_id, unsupported]), now=NOW
    )
    reasons = {
        i.reason.split(":")[0].split(" (")[0] for i in res.issues if i.severity == "rejected"
    }
    assert res.accepted == 2 and res.rejected == 5
    assert {
        "duplicate id",
        "bad pattern",
        "spec_version '2.0' is not 2.1",
        "unknown type 'weird-thing'",
    } <= reasons
    assert any("not matched" in i.reason for i in res.issues if i.severity == "warning")
    # the raw indicator from a peer still matches a legit-looking account: it is a signal only
    match_intel(store_b, key, now=NOW)
    assert list(_signals(store_b)) == ["u-01"]
    assert store_b.sql("SELECT count(*) AS n FROM decisions").to_pylist()[0]["n"] == 0


def test_until_replays_a_prefix(store_b, bundle_bytes, key):
    from datetime import datetime

    import_bundle(store_b, bundle_bytes, now=NOW)
    early = datetime(2025, 3, 3, 9, 3, 30, tzinfo=UTC)  # c-01..c-04 have sent 1 each
    res = match_intel(store_b, key, now=NOW, until=early)
    assert res.accounts == 4
    assert match_intel(store_b, key, now=NOW, until=datetime(2025, 1, 1, tzinfo=UTC)).hits == 0
