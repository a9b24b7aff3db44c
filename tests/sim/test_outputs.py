"""Output contract: valid canonical events, chronological, labels for every account, manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.sim import SCENARIOS, load_scenario, simulate


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    s = load_scenario("demo-week")
    a = simulate(s, tmp_path / "a", seed=3, scale=0.01)
    b = simulate(s, tmp_path / "b", seed=3, scale=0.01)
    c = simulate(s, tmp_path / "c", seed=4, scale=0.01)
    for name in ("events.jsonl", "labels.csv", "scenario.json"):
        assert _digest(tmp_path / "a" / name) == _digest(tmp_path / "b" / name)
    assert _digest(a.events_path) != _digest(c.events_path)
    assert a.events == b.events > 0


def test_every_line_is_a_valid_chronological_event(sim_run) -> None:
    run = sim_run("demo-week", 0.03)
    assert len(run.events) == run.result.events > 3000
    ts = [e.ts_utc for e in run.events]
    assert ts == sorted(ts)
    e = run.events[0]
    assert e.request_id and e.org_id and e.api_key_id and e.model and e.endpoint
    assert e.client is not None and e.client.ip and e.client.asn and e.client.country
    assert e.account is not None and e.account.created_at and e.account.payment_fingerprint
    assert e.params is not None and e.usage is not None and e.status is not None
    assert len({e.request_id for e in run.events}) == len(run.events)


def test_labels_cover_every_account_and_only_those(sim_run) -> None:
    run = sim_run("demo-week", 0.03)
    seen = {e.account_id for e in run.events}
    assert set(run.labels) == seen
    campaigns = {c["id"] for c in run.manifest["campaigns"]}
    assert {v for v in run.labels.values() if v} == campaigns
    assert run.result.campaign_accounts == sum(1 for v in run.labels.values() if v)


def test_manifest_lists_tactics_with_atlas_ids_and_allow_list(sim_run) -> None:
    run = sim_run("demo-week", 0.03)
    m = run.manifest
    assert m["seed"] == 0 and m["scale"] == 0.03
    for c in m["campaigns"]:
        assert c["tactics"] and all(a.startswith("AML.") for a in c["atlas"])
        assert "AML.T0040" in c["atlas"]
    assert m["allow_list"], "the licensed customer's org must be on the allow-list"
    allowed = {a["org_id"] for a in m["allow_list"]}
    assert any(e.org_id in allowed for e in run.events)
    assert {r["name"] for r in m["models"]} == {e.model for e in run.events} | {
        r["name"] for r in m["models"]
    }
    assert m["counts"]["events"] == run.result.events


def test_privacy_mode_has_no_text(sim_run) -> None:
    run = sim_run("demo-week", 0.01, text=False)
    assert run.events and all(e.messages is None and e.prompt is None for e in run.events)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_preset_loads(name: str) -> None:
    s = load_scenario(name)
    assert s.name == name and (s.personas or s.campaigns)


BENCH_SCENARIOS = sorted((Path(__file__).parents[2] / "benchmarks" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", BENCH_SCENARIOS, ids=[p.stem for p in BENCH_SCENARIOS])
def test_benchmark_scenario_files_simulate(path: Path, tmp_path: Path) -> None:
    """The scenario files of benchmarks/scenarios (bench_detect --scenarios) stay valid."""
    s = load_scenario(path)
    assert s.name == path.stem and s.campaigns
    res = simulate(s, tmp_path, seed=1, scale=0.002, progress=False)
    labels = (tmp_path / "labels.csv").read_text().splitlines()
    assert res.events > 0 and any(line.split(",")[1] for line in labels[1:])


def test_bad_scenario_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: x\ncampaigns:\n  - {id: c, accounts: 1, exchanges: 1, tactics: {nope: 1}}\n"
    )
    with pytest.raises(ConfigError, match="campaign c: unknown or no tactics"):
        load_scenario(p)
    with pytest.raises(ConfigError, match="unknown scenario"):
        load_scenario("no-such-scenario")
