from __future__ import annotations

import json
from collections import Counter

import pytest

from distillguard.errors import ConfigError, InputError
from distillguard.intel import stix
from distillguard.intel.config import IntelConfig
from distillguard.intel.export import export_bundle
from tests.intel.conftest import NOW, PROVIDER_A, validate_stix

RAW_STRINGS = [
    "203.0.113.10",
    "203.0.113.11",
    "203.0.113.0/24",
    "pm_fraud_001",
    "pm_fraud_002",
    "c-01",
    "c-06",
    "distil-harvester",
    "mailinator-x.test",
    "64512",
    "crate holds",
]


def test_bundle_passes_stix2_validator(store_a, key):
    res = export_bundle(PROVIDER_A, store_a, key, now=NOW)
    validate_stix(res.bundle)
    types = Counter(o["type"] for o in res.bundle["objects"])
    for t in (
        "identity",
        "campaign",
        "attack-pattern",
        "indicator",
        "sighting",
        "relationship",
        "marking-definition",
        "extension-definition",
        "observed-data",
        stix.FINGERPRINT_TYPE,
        stix.IDENTIFIER_TYPE,
    ):
        assert types[t] >= 1, t


def test_no_raw_identifier_or_text_leaves_by_default(store_a, key):
    text = json.dumps(export_bundle(PROVIDER_A, store_a, key, now=NOW).bundle)
    for raw in RAW_STRINGS:
        assert raw not in text, raw


def test_raw_only_for_opted_in_field(store_a, key):
    res = export_bundle(PROVIDER_A, store_a, key, now=NOW, include_raw=["client_ip"])
    validate_stix(res.bundle)
    text = json.dumps(res.bundle)
    assert "[ipv4-addr:value = '203.0.113.10']" in text
    assert "203.0.113.0/24" in text
    assert "pm_fraud_001" not in text and "c-01" not in text


def test_unknown_raw_field_refused(store_a, key):
    with pytest.raises(ConfigError, match="include_raw"):
        export_bundle(PROVIDER_A, store_a, key, now=NOW, include_raw=["prompt_text"])


def test_values_shared_with_legit_accounts_are_filtered(store_a, key):
    res = export_bundle(
        PROVIDER_A, store_a, key, now=NOW, include_raw=["client_user_agent", "account_email_domain"]
    )
    text = json.dumps(res.bundle)
    assert "distil-harvester/1.0" in text
    assert "python-requests" not in text  # also used by legit accounts
    assert "mailinator-x.test" not in text  # one legit account uses it
    assert res.filtered["user_agent"] == 1 and res.filtered["email_domain"] == 1


@pytest.mark.parametrize("level", stix.TLP_LEVELS)
def test_tlp_marking_is_official_and_applied(store_a, key, level):
    res = export_bundle(PROVIDER_A, store_a, key, now=NOW, tlp=level)
    mid = stix.TLP2_MARKING_IDS[level]
    markings = [o for o in res.bundle["objects"] if o["type"] == "marking-definition"]
    assert [m["id"] for m in markings] == [mid]
    assert markings[0]["extensions"][stix.TLP2_EXTENSION_ID]["tlp_2_0"] == level
    for o in res.bundle["objects"]:
        if "created_by_ref" in o and o["created_by_ref"] != stix.DG_IDENTITY_ID:
            assert o["object_marking_refs"] == [mid]


def test_attack_patterns_carry_atlas_ids_and_names(store_a, key):
    res = export_bundle(PROVIDER_A, store_a, key, now=NOW)
    aps = {
        o["external_references"][0]["external_id"]: o["name"]
        for o in res.bundle["objects"]
        if o["type"] == "attack-pattern"
    }
    assert aps == {
        "AML.T0024.002": "Extract AI Model",
        "AML.T0005.001": "Train Proxy via Replication",
        "AML.T0021": "Establish Accounts",
    }


def test_sightings_carry_counts_and_time_range(store_a, key):
    res = export_bundle(PROVIDER_A, store_a, key, now=NOW)
    objs = {o["id"]: o for o in res.bundle["objects"]}
    sightings = [o for o in objs.values() if o["type"] == "sighting"]
    ip_counts = [s["count"] for s in sightings if "ipv4" in objs[s["sighting_of_ref"]]["name"]]
    assert len(ip_counts) == 4 and sum(ip_counts) == 180  # 4 addresses, 180 requests
    for s in sightings:
        assert s["first_seen"] <= s["last_seen"]


def test_intrusion_set_when_attributed(tmp_path, store_a, key):
    d = tmp_path / "res"
    d.mkdir()
    camp = json.loads((PROVIDER_A / "campaigns.json").read_text())
    camp[0]["actor"] = "HYDRA-7"
    (d / "campaigns.json").write_text(json.dumps(camp))
    (d / "accounts.csv").write_text((PROVIDER_A / "accounts.csv").read_text())
    res = export_bundle(d, store_a, key, now=NOW)
    validate_stix(res.bundle)
    sets = [o for o in res.bundle["objects"] if o["type"] == "intrusion-set"]
    assert [s["name"] for s in sets] == ["HYDRA-7"]
    rels = [
        o
        for o in res.bundle["objects"]
        if o["type"] == "relationship" and o["relationship_type"] == "attributed-to"
    ]
    assert rels and rels[0]["target_ref"] == sets[0]["id"]


def test_ids_are_stable_across_exports(store_a, key):
    a = export_bundle(PROVIDER_A, store_a, key, now=NOW).bundle
    b = export_bundle(PROVIDER_A, store_a, key, now=NOW).bundle
    assert sorted(o["id"] for o in a["objects"]) == sorted(o["id"] for o in b["objects"])


def test_missing_results_named(tmp_path, store_a, key):
    with pytest.raises(InputError, match="campaigns.json: not found"):
        export_bundle(tmp_path, store_a, key)


def test_bad_campaign_record_named(tmp_path, store_a, key):
    (tmp_path / "campaigns.json").write_text('[{"campaign_id": "X", "accounts": "c-01"}]')
    (tmp_path / "accounts.csv").write_text("account_id,verdict\n")
    with pytest.raises(InputError, match=r"campaigns.json:1: field 'accounts'"):
        export_bundle(tmp_path, store_a, key)


def test_default_config_tlp_is_amber():
    assert IntelConfig().tlp == "amber"
