"""Each tactic's observable property holds, and legitimate personas look human."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import numpy as np

from distillguard.sim import infra
from distillguard.sim.wrappers import wrapper_set


def _prompt(e) -> str:
    return e.messages[-1].content if e.messages else ""


def test_slow_and_low_stays_under_the_daily_cap_with_one_ip_per_account(sim_run) -> None:
    run = sim_run("slow-and-low", 0.02)
    camp = run.of("slow-low")
    assert len({e.account_id for e in camp}) >= 90
    per_day = Counter((e.account_id, e.ts_utc.date()) for e in camp)
    assert max(per_day.values()) <= 4
    ips = defaultdict(set)
    for e in camp:
        ips[e.account_id].add(e.client.ip)
    assert all(len(v) == 1 for v in ips.values())
    assert len({next(iter(v)) for v in ips.values()}) == len(ips)  # nobody shares an IP
    assert len({e.client.user_agent for e in camp}) >= 10  # no single campaign UA
    assert len({e.account.payment_fingerprint for e in camp}) == len(ips)


def test_release_chasing_moves_traffic_within_a_day(sim_run) -> None:
    run = sim_run("hydra-release", 0.02)
    release = next(m for m in run.manifest["models"] if m["name"] == "orion-5")["released_at"]
    from datetime import datetime

    t0 = datetime.fromisoformat(release.replace("Z", "+00:00"))
    lo, hi = t0 + timedelta(hours=12), t0 + timedelta(hours=24)

    def share(events) -> float:
        window = [e for e in events if lo <= e.ts_utc < hi]
        return sum(e.model == "orion-5" for e in window) / max(1, len(window))

    camp = run.of("hydra")
    assert not any(e.model == "orion-5" and e.ts_utc < t0 for e in run.events)
    assert share(camp) >= 0.45
    assert share(run.legit()) < share(camp) - 0.15


def test_hydra_accounts_are_created_in_bursts(sim_run) -> None:
    run = sim_run("hydra-release", 0.02)
    created = sorted(
        {(e.account_id, e.account.created_at) for e in run.of("hydra")}, key=lambda x: x[1]
    )
    times = np.array([c.timestamp() for _, c in created])
    bursts = 1 + int((np.diff(times) > 3600).sum())
    assert len(times) >= 100 and bursts <= 25  # 20 creation bursts in the preset


def test_paraphrased_wrappers_defeat_exact_matching(sim_run) -> None:
    assert len(set(wrapper_set(np.random.default_rng(0), "reasoning", 2000))) >= 1900
    run = sim_run("paraphrase", 0.03)
    camp = [_prompt(e) for e in run.of("para-reasoning")]
    heads = Counter(p[:40] for p in camp)
    assert len(heads) >= 0.2 * len(camp)
    assert heads.most_common(1)[0][1] <= 0.05 * len(camp)


def test_reseller_campaign_shares_the_resellers_org_and_infrastructure(sim_run) -> None:
    run = sim_run("reseller-mix", 0.03)
    camp = run.of("mixed-in-reseller")
    org = {e.org_id for e in camp}
    assert len(org) == 1
    legit_same_org = [e for e in run.legit() if e.org_id in org]
    assert len({e.account_id for e in legit_same_org}) > 5 * len({e.account_id for e in camp})
    assert {e.client.ip for e in camp} <= {e.client.ip for e in legit_same_org}
    assert {e.account.payment_fingerprint for e in camp} == {
        e.account.payment_fingerprint for e in legit_same_org
    }


def test_load_balanced_hydra_splits_volume_evenly(sim_run) -> None:
    run = sim_run("demo-week", 0.05)
    counts = np.array(list(Counter(e.account_id for e in run.of("hydra-dc")).values()))
    assert len(counts) >= 10 and counts.std() / counts.mean() < 0.25


def test_enterprise_apps_reuse_one_template_per_org(sim_run) -> None:
    run = sim_run("enterprise-reuse", 0.05)
    by_org = defaultdict(list)
    for e in run.legit():
        if e.account.tier == "enterprise":
            by_org[e.org_id].append(e)
    assert len(by_org) >= 4
    for events in by_org.values():
        heads = Counter(_prompt(e)[:25] for e in events)
        tails = Counter(_prompt(e)[-25:] for e in events)  # T0 templates may put the payload first
        top = max(heads.most_common(1)[0][1], tails.most_common(1)[0][1])
        assert top >= 0.5 * len(events)
        assert len({e.api_key_id for e in events}) <= 3
        assert len({e.client.ip for e in events}) <= 6


def test_eval_harness_is_a_machine_timed_fixed_format_sweep(sim_run) -> None:
    run = sim_run("eval-harness", 0.05)
    ev = [e for e in run.legit() if e.account.tier == "tier-4"]
    assert len(ev) > 1000
    assert all(e.params.max_tokens >= 2048 for e in ev)
    acct = Counter(e.account_id for e in ev).most_common(1)[0][0]
    ts = np.array([e.ts_utc.timestamp() for e in ev if e.account_id == acct])
    assert np.median(np.diff(ts)) < 2.0  # machine speed
    assert "step by step" in _prompt(ev[0]).lower() or "Answer:" in _prompt(ev[0])


def test_licensed_customers_are_on_the_allow_list(sim_run) -> None:
    run = sim_run("licensed", 0.05)
    allowed = {a["org_id"] for a in run.manifest["allow_list"]}
    lic = [e for e in run.events if e.org_id in allowed]
    assert lic and not any(run.labels[e.account_id] for e in lic)
    assert all(e.params.reasoning_effort == "high" for e in lic)
    assert len(lic) > len(run.of("unlicensed"))


def test_legit_users_follow_a_diurnal_rhythm_in_their_time_zone(sim_run) -> None:
    run = sim_run("demo-week", 0.05)
    hours = Counter()
    for e in run.legit():
        if e.account.tier in ("free", "plus"):
            off = infra.COUNTRIES[e.client.country].utc_offset
            hours[int((e.ts_utc.hour + e.ts_utc.minute / 60 + off) % 24)] += 1
    n = np.array([hours[h] for h in range(24)], dtype=float)
    assert n.sum() > 1000
    night, evening = n[2:6].mean(), n[18:23].mean()
    assert evening > 4 * night


def test_hard_negatives_exist_among_legit_accounts(sim_run) -> None:
    run = sim_run("demo-week", 0.05)
    legit = {e.account_id: e for e in run.legit()}
    assert any(e.account.email_domain in infra.DISPOSABLE for e in legit.values())
    camp = {e.account_id: e for e in run.events if run.labels[e.account_id]}
    assert not all(e.account.email_domain in infra.DISPOSABLE for e in camp.values())
    assert len({e.client.user_agent for e in camp.values()}) > 3


def test_shipped_slice_works_without_shared_data(sim_run) -> None:
    run = sim_run("demo-week", 0.02, corpus="builtin")
    assert run.manifest["corpora"] == "builtin"
    assert len(run.events) > 2000 and all(e.messages for e in run.events)


def test_roles_per_account_give_each_account_one_tactic(tmp_path) -> None:
    from pathlib import Path

    import msgspec

    from distillguard.sim import load_scenario, simulate
    from tests.sim.conftest import read_run

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios" / "roles-hydra.yaml"
    scenario = load_scenario(str(path))

    def jobs_by_account(per_account: bool) -> dict[str, set[str]]:
        camp = msgspec.structs.replace(scenario.campaigns[0], tactic_per_account=per_account)
        s = msgspec.structs.replace(scenario, campaigns=(camp,), days=2.0)
        run = read_run(simulate(s, tmp_path / str(per_account), seed=3, scale=0.05))
        jobs: dict[str, set[str]] = defaultdict(set)
        for e in run.of("roles"):
            jobs[e.account_id].add("grading" if e.params and e.params.logprobs else "reasoning")
        return jobs

    roles = jobs_by_account(True)
    assert len(roles) >= 15
    assert all(len(r) == 1 for r in roles.values())  # one job per account
    handed = Counter(next(iter(r)) for r in roles.values())
    assert handed["grading"] >= 3 and handed["reasoning"] >= 3  # both roles are handed out
    # without roles, busy accounts mix both tactics
    assert any(len(r) == 2 for r in jobs_by_account(False).values())


def test_aged_hydra_accounts_are_used_for_their_lifetime_not_never(tmp_path) -> None:
    # Accounts bought or farmed months before (account_age_days) and rotated through a
    # hydra (lifetime_days) each send traffic within their lifetime of their first use; the
    # lifetime once ran from the sign-up, so most such accounts never sent anything.
    from distillguard.sim import simulate
    from distillguard.sim.scenario import scenario_from_dict
    from tests.sim.conftest import read_run

    scenario = scenario_from_dict(
        {
            "name": "aged-hydra",
            "days": 6,
            "personas": [{"id": "casual", "kind": "casual", "accounts": 200, "rate": 2}],
            "campaigns": [
                {
                    "id": "aged",
                    "accounts": 40,
                    "exchanges": 4000,
                    "tactics": {"reasoning_harvest": 1.0},
                    "account_age_days": 120,
                    "lifetime_days": 1.5,
                }
            ],
        }
    )
    result = simulate(scenario, tmp_path / "sim", seed=5, scale=1.0)
    assert result.campaign_account_counts["aged"] == 40
    run = read_run(result)
    times: dict[str, list] = defaultdict(list)
    for e in run.of("aged"):
        times[e.account_id].append(e.ts_utc)
        assert (e.ts_utc - e.account.created_at) > timedelta(days=6)  # still aged at use
    assert len(times) == 40
    assert all(max(t) - min(t) <= timedelta(days=1.5) for t in times.values())
    firsts = sorted(min(t) for t in times.values())
    assert firsts[-1] - firsts[0] >= timedelta(days=2)  # the stock is rotated through
