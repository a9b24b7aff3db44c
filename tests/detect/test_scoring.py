from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detect.allowlist import AllowList
from distillguard.detect.campaigns import ATLAS_TECHNIQUES, decide
from distillguard.detect.config import DetectConfig
from distillguard.detect.expr import parse
from distillguard.detect.linking import build_edges
from distillguard.detect.ruleset import Rule
from distillguard.detect.scan import run_scan
from distillguard.detect.scoring import (
    ACCOUNT_WEIGHTS,
    PRIVACY_WEIGHTS,
    account_terms,
    score_account,
    score_accounts,
    suspicion,
)

from .synth import campaign_events, legit_events, write_jsonl


def test_suspicion_is_monotone_and_bounded() -> None:
    risks = [0.0, 1e-6, 0.01, 0.1, 0.5, 0.9, 0.999, 1.0]
    s = [suspicion(r) for r in risks]
    assert all(0.0 <= v <= 1.0 for v in s)
    assert s == sorted(s)
    assert suspicion(0.01) < 0.5 < suspicion(0.5)


def test_terms_are_shares_and_every_term_has_a_weight() -> None:
    row = {
        "n_events": 400,
        "distill_share": 0.9,
        "n_ips": 400,
        "dup_prompt_share": 0.0,
        "out_in_ratio": 20.0,
        "iat_cv": 0.1,
        "active_hour_share": 1.0,
        "account_age_days": 1.0,
        "verified": 0,
    }
    terms = account_terms(row)
    assert all(0.0 <= v <= 1.0 for v in terms.values()), terms
    assert set(terms) <= set(ACCOUNT_WEIGHTS)
    assert terms["ip_churn"] > 0.9  # a new address for every request
    assert account_terms({"n_events": 3, "n_ips": 3})["ip_churn"] == 0.0  # too few to say


def test_extraction_shaped_account_outscores_a_heavy_clean_one() -> None:
    bad = {"n_events": 300, "distill_share": 0.95, "max_tokens_cap_share": 0.9, "verified": 0}
    good = {"n_events": 30000, "distill_share": 0.02, "verified": 1, "account_age_days": 900}
    assert score_account(bad, []).risk > 0.5 > score_account(good, []).risk


def _add_event_columns(con: duckdb.DuckDBPyConnection) -> None:
    """The columns build_edges reads, empty, on a small ``ev`` table."""
    con.execute(
        "ALTER TABLE ev ADD COLUMN ts TIMESTAMPTZ DEFAULT TIMESTAMPTZ '2025-03-03 00:00:00+00'"
    ).fetchall()
    for col, typ in (
        ("account_payment_fingerprint", "VARCHAR"),
        ("client_ip", "VARCHAR"),
        ("client_asn", "BIGINT"),
        ("client_user_agent", "VARCHAR"),
        ("account_created_at", "TIMESTAMPTZ"),
        ("account_email_domain", "VARCHAR"),
        ("account_tier", "VARCHAR"),
    ):
        con.execute(f"ALTER TABLE ev ADD COLUMN {col} {typ}").fetchall()


def test_family_keys_need_repeated_use(tmp_path: Path) -> None:
    """One request in a shared template does not link an account (regression: crowds)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev AS SELECT * FROM (VALUES "
        "('a', 'o1', 'd1'), ('a', 'o1', 'd2'), ('a', 'o1', 'd3'), "
        "('b', 'o2', 'd4'), ('b', 'o2', 'd5'), ('b', 'o2', 'd6'), "
        "('c', 'o3', 'd7'), ('c', 'o3', 'x1'), ('c', 'o3', 'x2'), ('c', 'o3', 'x3'), "
        "('c', 'o3', 'x4'), ('c', 'o3', 'x5'), ('c', 'o3', 'x6')) "
        "t(account_id, org_id, prompt_digest)"
    ).fetchall()
    _add_event_columns(con)
    con.execute(
        "CREATE TABLE prompt_signals AS SELECT prompt_digest, "
        "CASE WHEN prompt_digest LIKE 'd%' THEN 1 ELSE 2 END AS family_id "
        "FROM (SELECT DISTINCT prompt_digest FROM ev)"
    ).fetchall()
    con.execute("CREATE TABLE template_families AS SELECT 1 AS family_id, 1.0 AS weight").fetchall()
    con.execute("CREATE TABLE account_features AS SELECT DISTINCT account_id FROM ev").fetchall()
    build_edges(con, DetectConfig(), events="ev", has_fam=True)
    fam = con.execute(
        "SELECT a, b FROM account_edges WHERE kind = 'family' ORDER BY a, b"
    ).fetchall()
    assert fam == [("a", "b")]  # c sent one request in family 1: not linked by it


def _profile_graph(ratio: float) -> set[tuple[str, str]]:
    """Signal-profile edges among a (60/40 reasoning/rubric), b (90/10) and c (rubric only)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev AS SELECT * FROM (VALUES ('a', 'o1'), ('b', 'o2'), ('c', 'o3')) "
        "t(account_id, org_id)"
    ).fetchall()
    _add_event_columns(con)
    con.execute(
        "CREATE TABLE account_features AS SELECT * FROM (VALUES "
        "('a', 10, 1.0, 0.6, 0.4), ('b', 10, 1.0, 0.9, 0.1), ('c', 10, 1.0, NULL, 1.0)) "
        "t(account_id, n_events, distill_share, sig_reasoning_trace_share, "
        "sig_rubric_grading_share)"
    ).fetchall()
    cfg = DetectConfig(signal_profile_min_ratio=ratio)
    build_edges(con, cfg, events="ev", sig_cols=("sig_reasoning_trace", "sig_rubric_grading"))
    rows = con.execute("SELECT a, b FROM account_edges WHERE kind = 'signal_profile'").fetchall()
    return {(str(a), str(b)) for a, b in rows}


def test_an_account_sending_two_tactics_evenly_links_both_halves_of_a_fleet() -> None:
    # a sends rubric grading 2/3 as often as reasoning: it keys both profiles, so the
    # reasoning-heavy b and the rubric-only c are tied through it (never to each other).
    assert _profile_graph(0.5) == {("a", "b"), ("a", "c")}
    # The top signal alone (the old key): a and b share "reasoning", c is on its own.
    assert _profile_graph(1.0) == {("a", "b")}


def test_thin_accounts_of_a_rotating_fleet_carry_a_signal_profile() -> None:
    """Regression (benchmarks/scenarios/thin-sweep.yaml, scale 0.05 seed 1: flagged after 25 %
    of its volume): one-day accounts of three or four requests had no signal profile, so the
    first days of the fleet were tied only by networks and client software."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev AS SELECT * FROM (VALUES ('t1', 'o1'), ('t2', 'o2'), ('t3', 'o3'), "
        "('lone', 'o4'), ('dev', 'o5')) t(account_id, org_id)"
    ).fetchall()
    _add_event_columns(con)
    # t1-t3: 2-4 requests, all or most of them reasoning harvests; lone: a single request;
    # dev: a developer with one reasoning-shaped prompt among three.
    con.execute(
        "CREATE TABLE account_features AS SELECT * FROM (VALUES "
        "('t1', 3, 1.0, 1.0), ('t2', 2, 1.0, 1.0), ('t3', 4, 0.75, 0.75), "
        "('lone', 1, 1.0, 1.0), ('dev', 3, 0.34, 0.34)) "
        "t(account_id, n_events, distill_share, sig_reasoning_trace_share)"
    ).fetchall()
    build_edges(con, DetectConfig(), events="ev", sig_cols=("sig_reasoning_trace",))
    rows = con.execute("SELECT a, b FROM account_edges WHERE kind = 'signal_profile'").fetchall()
    linked = {str(x) for r in rows for x in r}
    assert linked == {"t1", "t2", "t3"}


@pytest.fixture()
def reseller_log(tmp_path: Path) -> Path:
    """A reseller: legitimate users and a campaign on one payment, IP range and org."""
    rng = random.Random(21)
    legit = legit_events(rng, 30)
    camp = campaign_events(rng, 8, 60)
    for e in legit + camp:
        e["org_id"] = "org-reseller"
        e["account"]["payment_fingerprint"] = "pay-reseller"
        e["client"] = {"ip": "198.51.100.7", "asn": 64501, "user_agent": "sdk/2", "country": "US"}
    return write_jsonl(tmp_path / "reseller.jsonl", legit + camp)


def test_campaign_inside_a_reseller_takes_only_its_own_accounts(
    reseller_log: Path, tmp_path: Path, fake_annotator: None
) -> None:
    res = run_scan([reseller_log], tmp_path / "out")
    assert len(res.campaigns) == 1
    assert sorted(res.campaigns[0].accounts) == [f"camp-{i:03d}" for i in range(8)]


def test_tactics_are_atlas_techniques(
    small_log: Path, tmp_path: Path, fake_annotator: None
) -> None:
    res = run_scan([small_log], tmp_path / "out")
    tactics = res.campaigns[0].tactics
    assert tactics
    for t in tactics:
        assert len(t["atlas"]) == 1 and t["atlas"][0] in ATLAS_TECHNIQUES, t
        assert t["name"] == ATLAS_TECHNIQUES[t["atlas"][0]], t
        assert t["source"]
    ids = [t["atlas"][0] for t in tactics]
    assert len(ids) == len(set(ids)) and "AML.T0024.002" in ids and "AML.T0040" in ids


_FEATURES = st.fixed_dictionaries(
    {
        "account_id": st.text("abc", min_size=1, max_size=4),
        "n_events": st.one_of(st.none(), st.integers(0, 5000)),
        "distill_share": st.one_of(st.none(), st.floats(0, 1)),
        "dup_prompt_share": st.one_of(st.none(), st.floats(0, 1)),
        "sig_prompt_extraction_share": st.one_of(st.none(), st.floats(0, 1)),
        "sig_jailbreak_share": st.one_of(st.none(), st.floats(0, 1)),
        "max_tokens_cap_share": st.one_of(st.none(), st.floats(0, 1)),
        "iat_cv": st.one_of(st.none(), st.floats(0, 30)),
        "account_age_days": st.one_of(st.none(), st.floats(0, 2000)),
        "verified": st.one_of(st.none(), st.integers(0, 1)),
        "n_ips": st.one_of(st.none(), st.integers(0, 5000)),
        "out_in_ratio": st.one_of(st.none(), st.floats(0, 500)),
        "new_model_share": st.one_of(st.none(), st.floats(0, 1)),
        "new_model_lag_h": st.one_of(st.none(), st.floats(0, 100)),
        "tier": st.one_of(st.none(), st.sampled_from(["free", "enterprise"])),
    }
)

_CONDITIONS = [
    "distill_share >= 0.6 and n_events >= 200",
    "not (iat_cv < 0.5) or tier == 'free'",
    "tier in ['free', 'plus'] and coalesce(verified, 1) == 0",
    "max(distill_share, max_tokens_cap_share) > 0.5 and present(account_age_days)",
    "n_ips / n_events > 0.5 and abs(-out_in_ratio) >= 10",
    "tier != 'enterprise' and min(n_events, n_ips) - 3 * 2 >= 0",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(_FEATURES, min_size=1, max_size=25, unique_by=lambda r: r["account_id"]))
def test_vectorised_scoring_equals_row_by_row(rows: list[dict[str, object]]) -> None:
    rules = [
        Rule(f"r{i}", "t", "medium", ("attack.AML.T0040",), (), c, parse(c), (), (), "x", 1)
        for i, c in enumerate(_CONDITIONS)
    ]
    table = pa.Table.from_pylist(rows)
    for weights in (ACCOUNT_WEIGHTS, PRIVACY_WEIGHTS):
        fast = score_accounts(table, rules, weights)
        for row in rows:
            slow = score_account(row, rules, weights)
            got = fast[str(row["account_id"])]
            assert [r.id for r in got.rules] == [r.id for r in slow.rules], row
            assert got.risk == pytest.approx(slow.risk, rel=1e-9, abs=1e-12), row
            assert got.weights is slow.weights is weights
            for k, v in slow.terms.items():
                assert got.terms[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (k, row)


def test_rerunning_a_fixed_benchmark_is_not_extraction() -> None:
    """Regression: an evaluation harness re-sends the same reasoning prompts (sim eval-harness)."""
    base = {"n_events": 15000, "distill_share": 0.95, "verified": 1, "account_age_days": 650}
    harness = score_account({**base, "dup_prompt_share": 0.98}, [])
    harvester = score_account({**base, "dup_prompt_share": 0.02}, [])
    assert harness.risk < 0.2 < 0.9 < harvester.risk


def test_a_prober_cycling_through_a_short_list_of_attacks_is_not_discounted() -> None:
    """Regression (benchmarks/bench_detect_random.py, draw 1, scenario 5, held-out corpus):
    three accounts sent 2,300 extraction attempts each, cycled from a list of 70 (74 %
    repeats), and scored 0.19: repeats were discounted as a harness re-running a benchmark.
    An attack is an attack each time it is sent; harvest content is still discounted."""
    base = {"n_events": 2300, "distill_share": 1.0, "dup_prompt_share": 0.74}
    prober = score_account({**base, "sig_prompt_extraction_share": 1.0}, [])
    assert prober.terms["distill"] == pytest.approx(2300 / 2310)
    jailbreaker = score_account({**base, "sig_jailbreak_share": 0.6}, [])
    assert jailbreaker.terms["distill"] == pytest.approx((0.4 * 0.26 + 0.6) * 2300 / 2310)
    harness = score_account(base, [])
    assert harness.terms["distill"] == pytest.approx(0.26 * 2300 / 2310)
    assert harness.risk < 0.5 < 0.9 < prober.risk


def test_privacy_model_weighs_metadata_and_spares_a_benchmark_at_the_cap() -> None:
    """Regression (sim slow-and-low without text): fitted with the plain max_tokens-cap term,
    the privacy-mode model gave an evaluation harness re-running GSM8K at the cap (5,500
    requests, 95 % repeats) risk 0.999; it now counts the cap on new prompts only."""
    assert set(PRIVACY_WEIGHTS) == set(ACCOUNT_WEIGHTS)
    assert PRIVACY_WEIGHTS["distill"] == PRIVACY_WEIGHTS["rare_family"] == 0.0  # need text
    assert ACCOUNT_WEIGHTS["fresh_cap"] == 0.0  # text mode unchanged
    base = {"n_events": 5500, "max_tokens_cap_share": 1.0, "verified": 1, "account_age_days": 650}
    harness = score_account({**base, "dup_prompt_share": 0.95}, [], PRIVACY_WEIGHTS)
    assert harness.risk < 0.5
    # A fresh account rotating addresses (demo-week's datacenter hydra without its text): the
    # text model, missing its content term, leaves it under every membership threshold.
    hydra = {"n_events": 40, "n_ips": 30, "account_age_days": 1.0}
    text_risk = score_account(hydra, []).risk
    privacy_risk = score_account(hydra, [], PRIVACY_WEIGHTS).risk
    assert text_risk < DetectConfig().member_min_risk < privacy_risk
    fresh = score_account({**base, "dup_prompt_share": 0.0}, [], PRIVACY_WEIGHTS)
    assert fresh.risk > 0.8 > 0.05 > harness.risk
    assert "100% of requests are new prompts asking for the max_tokens cap" in fresh.reasons()


def _row(aid: str, distill: float, age: float) -> dict[str, object]:
    return {
        "account_id": aid,
        "org_id": f"org-{aid}",
        "n_events": 200,
        "distill_share": distill,
        "account_age_days": age,
        "verified": 0,
        "first_seen": datetime(2025, 3, 3, tzinfo=UTC),
        "last_seen": datetime(2025, 3, 4, tzinfo=UTC),
    }


def test_bystander_far_less_risky_than_the_group_is_not_a_member() -> None:
    """Regression (sim hydra-release): a new developer whose coding prompts share a signal
    with a hydra's capability sweep was pulled into the hydra's community."""
    rows = [_row(f"h{i}", 0.95, 1.0) for i in range(6)] + [_row("dev", 0.3, 5.0)]
    comm = {str(r["account_id"]): (0, True) for r in rows}
    kinds = {str(r["account_id"]): {"signal_profile": 2} for r in rows}
    _, camps = decide(
        rows, comm, kinds, {0: 1.0}, [], AllowList(), datetime.now(UTC), DetectConfig()
    )
    assert len(camps) == 1 and "dev" not in camps[0].accounts and len(camps[0].accounts) == 6


def test_low_volume_account_joins_only_with_identity_and_content() -> None:
    """Regression (sim licensed/paraphrase): campaign accounts with 2-4 requests were missed;
    legitimate 3-request accounts with maths prompts must not join on similarity alone."""
    rows = [_row(f"h{i}", 0.95, 1.0) for i in range(6)]
    tiny = [
        {**_row("twin", 1.0, 2.0), "n_events": 3},
        {**_row("lookalike", 1.0, 400.0), "n_events": 3},
        {**_row("sharer", 0.1, 2.0), "n_events": 3},
    ]
    comm = {str(r["account_id"]): (0, True) for r in rows + tiny}
    kinds = {str(r["account_id"]): {"signal_profile": 2} for r in rows}
    kinds["twin"] = {"payment": 1}
    kinds["lookalike"] = {"family": 3}
    kinds["sharer"] = {"payment": 1}
    _, camps = decide(
        rows + tiny, comm, kinds, {0: 1.0}, [], AllowList(), datetime.now(UTC), DetectConfig()
    )
    assert len(camps) == 1
    assert "twin" in camps[0].accounts
    assert "lookalike" not in camps[0].accounts and "sharer" not in camps[0].accounts


def test_privacy_mode_finds_a_hydra_on_behaviour_alone(tmp_path: Path) -> None:
    """Regression (sim hydra-release without text): no behaviour edges without text, so
    identity edges (payment, creation bursts) must be able to make members core."""
    rng = random.Random(17)
    events = legit_events(rng, 30) + campaign_events(rng, 12, 80, privacy=True)
    for e in events:
        e.pop("prompt", None)
        if e["account_id"].startswith("camp"):
            e["client"]["ip"] = f"203.0.{rng.randrange(200)}.{rng.randrange(250)}"  # rotating
            e["params"]["max_tokens"] = 4096  # the cap
    res = run_scan([write_jsonl(tmp_path / "e.jsonl", events)], tmp_path / "out")
    assert len(res.campaigns) == 1
    assert sorted(res.campaigns[0].accounts) == [f"camp-{i:03d}" for i in range(12)]


def test_family_crowd_forms_a_campaign_of_accounts_too_small_for_a_risk() -> None:
    """Regression (sim slow-and-low at 5 % of its volume): 1-2 requests per account, no
    identity edge, no pairwise family edge; the wrapper family's user set is the evidence."""
    from distillguard.detect.allowlist import AllowEntry
    from distillguard.detect.families import FamilyGroup

    rows = [{**_row(f"s{i}", 1.0, 200.0), "n_events": 2 + i % 2} for i in range(12)]
    rows.append({**_row("lic", 1.0, 200.0), "n_events": 2, "org_id": "licensed-org"})
    comm = {str(r["account_id"]): (i, False) for i, r in enumerate(rows)}
    ids = tuple(str(r["account_id"]) for r in rows)
    group = FamilyGroup(families=(4,), accounts=ids, users=13, events=20, distill_share=1.0)
    allow = AllowList((AllowEntry(org="licensed-org", account=None, reason="ok", expires=None),))
    now = datetime.now(UTC)
    cfg = DetectConfig()
    verdicts, camps = decide(rows, comm, {}, {}, [], allow, now, cfg, family_groups=[group])
    assert len(camps) == 1 and "lic" not in camps[0].accounts and len(camps[0].accounts) == 12
    v = {x.account_id: x for x in verdicts}
    assert v["s0"].verdict == "campaign" and "rare template family" in v["s0"].reasons[1]
    assert v["lic"].verdict == "legit"
    # Without the family evidence the same accounts stay legit (nothing links them).
    _, none = decide(rows, comm, {}, {}, [], allow, now, cfg)
    assert none == []
    # Clean content keeps the community score under the threshold.
    clean = [{**r, "distill_share": 0.0} for r in rows]
    _, low = decide(clean, comm, {}, {}, [], allow, now, cfg, family_groups=[group])
    assert low == []


def test_a_small_family_crowd_is_a_campaign_below_min_campaign_events() -> None:
    """Regression (demo-week at 0.25, its residential fleet at 4 % of its volume): nine
    accounts with one request each on one rare wrapper are a crowd of 9 requests, under the
    20 a graph community needs; ``family_crowd_min_events`` is the crowd's own floor."""
    from dataclasses import replace

    from distillguard.detect.families import FamilyGroup

    rows = [{**_row(f"q{i}", 1.0, 200.0), "n_events": 1} for i in range(9)]
    comm = {str(r["account_id"]): (i, False) for i, r in enumerate(rows)}
    ids = tuple(str(r["account_id"]) for r in rows)
    group = FamilyGroup(families=(15,), accounts=ids, users=9, events=9, distill_share=1.0)
    now = datetime.now(UTC)
    cfg = DetectConfig()
    assert cfg.family_crowd_min_events < 9 < cfg.min_campaign_events
    verdicts, camps = decide(rows, comm, {}, {}, [], AllowList(), now, cfg, family_groups=[group])
    assert len(camps) == 1 and set(camps[0].accounts) == set(ids) and camps[0].volume == 9
    assert all(v.verdict == "campaign" for v in verdicts)
    strict = replace(cfg, family_crowd_min_events=10)
    _, none = decide(rows, comm, {}, {}, [], AllowList(), now, strict, family_groups=[group])
    assert none == []


def test_a_graph_crowd_of_thin_accounts_is_a_campaign_below_min_campaign_events() -> None:
    """Regression (held-out jailbreak-swarm at 0.05, 5 % of its volume): six one-day accounts
    of six organisations, 2-3 jailbreak requests each (13 in all), tied by their signal
    profile; the community scored 0.93 but stayed under the 20 requests a graph campaign
    needed. As many accounts and organisations as a family crowd take its floor; fewer do not.
    """
    from dataclasses import replace

    rows = [{**_row(f"j{i}", 1.0, 1.0), "n_events": 3 if i == 0 else 2} for i in range(6)]
    comm = {str(r["account_id"]): (0, True) for r in rows}
    kinds = {str(r["account_id"]): {"signal_profile": 5} for r in rows}
    now = datetime.now(UTC)
    cfg = DetectConfig()
    assert cfg.family_crowd_min_events <= 13 < cfg.min_campaign_events
    verdicts, camps = decide(rows, comm, kinds, {0: 1.0}, [], AllowList(), now, cfg)
    assert len(camps) == 1 and len(camps[0].accounts) == 6 and camps[0].volume == 13
    assert all(v.verdict == "campaign" for v in verdicts)
    # Four accounts are not a crowd: the graph floor holds.
    four = rows[:4]
    _, none = decide(four, comm, kinds, {0: 1.0}, [], AllowList(), now, cfg)
    assert none == []
    # Six accounts of two organisations are not a crowd either.
    two_orgs = [{**r, "org_id": f"org-{i % 2}"} for i, r in enumerate(rows)]
    _, none = decide(two_orgs, comm, kinds, {0: 1.0}, [], AllowList(), now, cfg)
    assert none == []
    # With the family crowd off, the graph floor applies to every community.
    off = replace(cfg, family_crowd_min_accounts=0)
    _, none = decide(rows, comm, kinds, {0: 1.0}, [], AllowList(), now, off)
    assert none == []


def test_family_crowd_extends_the_graph_campaign_holding_its_members() -> None:
    from distillguard.detect.families import FamilyGroup

    rows = [_row(f"h{i}", 0.95, 1.0) for i in range(6)]
    rows += [{**_row(f"t{i}", 1.0, 200.0), "n_events": 1} for i in range(3)]
    comm = {str(r["account_id"]): (0 if str(r["account_id"])[0] == "h" else 5, True) for r in rows}
    kinds = {f"h{i}": {"signal_profile": 2} for i in range(6)}
    group = FamilyGroup((1,), ("h0", "h1", "t0", "t1", "t2"), 5, 300, 1.0)
    _, camps = decide(
        rows,
        comm,
        kinds,
        {0: 1.0},
        [],
        AllowList(),
        datetime.now(UTC),
        DetectConfig(),
        family_groups=[group],
    )
    assert len(camps) == 1
    assert set(camps[0].accounts) == {*(f"h{i}" for i in range(6)), "t0", "t1", "t2"}
    assert camps[0].volume == 6 * 200 + 3
