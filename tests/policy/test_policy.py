"""Decisions, their combination, the table with its audit trail, and apply-scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import InputError
from distillguard.policy import (
    DecisionTable,
    MemoryLog,
    MemoryPublisher,
    PolicyConfig,
    StoreDecisionLog,
    apply_scan,
    make_decision,
    parse_actions,
    resolve,
)
from distillguard.store import DuckDBStore


def test_parse_actions_orders_and_validates() -> None:
    assert parse_actions("strip+throttle") == ("throttle", "strip")
    with pytest.raises(InputError, match="unknown action 'nuke'"):
        parse_actions("nuke")
    with pytest.raises(InputError, match="cannot be combined"):
        parse_actions("allow+block")


def test_params_are_checked() -> None:
    with pytest.raises(InputError, match="read only by throttle"):
        make_decision("account", "a", "block", params={"rpm": 3})
    with pytest.raises(InputError, match="needs the parameter max_tokens"):
        make_decision("account", "a", "cap_max_tokens")
    with pytest.raises(InputError, match="expected int"):
        make_decision("account", "a", "throttle", params={"rpm": "lots"})
    with pytest.raises(InputError, match="subject kind"):
        make_decision("user", "a", "block")


def test_resolve_strictest_wins_and_allow_overrides_org() -> None:
    acct = make_decision(
        "account", "a", "throttle+cap_max_tokens", params={"rpm": 10, "max_tokens": 100}
    )
    org = make_decision("org", "o", "throttle+watermark", params={"rpm": 5, "tpm": 1000})
    e = resolve([acct, org])
    assert e.limits is not None and (e.limits.rpm, e.limits.tpm) == (5, 1000)
    assert e.max_tokens == 100 and e.transforms == (("watermark", {"strength": 1.0}),)
    assert e.refusal is None
    blocked = resolve(
        [make_decision("account", "a", "require_verification"), make_decision("org", "o", "block")]
    )
    assert blocked.refusal is not None and blocked.refusal.code == "account_blocked"
    allowed = resolve([make_decision("account", "a", "allow"), make_decision("org", "o", "block")])
    assert allowed.refusal is None and allowed.record["action"] == "allow"


def test_expiry() -> None:
    d = make_decision("account", "a", "block", ttl_s=10, now=1000.0)
    assert d.active(1009.0) and not d.active(1010.0)


def test_table_put_replaces_and_audits_in_store() -> None:
    store = DuckDBStore(":memory:")
    table = DecisionTable(MemoryPublisher(), StoreDecisionLog(store))
    d1 = make_decision("account", "a1", "strip", reason="r1")
    table.put(d1, actor="analyst:x")
    res = table.put(make_decision("account", "a1", "block", reason="r2"), actor="analyst:x")
    assert res.replaced == d1
    assert table.get("account", "a1").actions == ("block",)
    table.revoke("account", "a1", actor="analyst:y", reason="false positive")
    assert table.get("account", "a1") is None
    rows = store.sql("SELECT action, revoked_at IS NULL AS live FROM decisions ORDER BY created_at")
    assert [r["live"] for r in rows.to_pylist()] == [False, False]
    actors = store.sql("SELECT actor, action FROM audit_log ORDER BY ts").to_pylist()
    assert len(actors) == 4 and actors[-1] == {"actor": "analyst:y", "action": "decision.revoke"}


def _write_scan(d: Path, rows: list[str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "accounts.csv").write_text(
        "account_id,risk,verdict,campaign_id,top_reasons\n" + "\n".join(rows) + "\n"
    )
    return d


def test_apply_scan_maps_verdicts_and_is_idempotent(tmp_path: Path) -> None:
    table = DecisionTable(MemoryPublisher(), MemoryLog())
    table.put(
        make_decision("account", "vip", "allow", reason="vetted", created_by="analyst:x"),
        actor="analyst:x",
    )
    res_dir = _write_scan(
        tmp_path / "scan1",
        [
            "a1,0.95,campaign,c1,shared template",
            "a2,0.6,suspect,,reasoning elicitation",
            "a3,0.01,legit,,",
            "vip,0.99,campaign,c1,",
        ],
    )
    cfg = PolicyConfig()
    r = apply_scan(res_dir, table, cfg, actor="t")
    assert (r.rows, r.applied, r.kept_analyst) == (4, 2, 1)
    a1 = table.get("account", "a1")
    assert a1 is not None and "throttle" in a1.actions and "campaign c1" in a1.reason
    assert a1.params["rpm"] == 10 and a1.expires_at is not None
    assert table.get("account", "vip").actions == ("allow",)
    again = apply_scan(res_dir, table, cfg, actor="t")
    assert (again.applied, again.unchanged) == (0, 2)
    cleared = _write_scan(tmp_path / "scan1", ["a1,0.1,legit,,"])
    r3 = apply_scan(cleared, table, cfg, actor="t")
    assert r3.withdrawn == 1 and table.get("account", "a1") is None


def test_apply_scan_errors_name_file_and_line(tmp_path: Path) -> None:
    table = DecisionTable(MemoryPublisher(), MemoryLog())
    bad = _write_scan(tmp_path / "s", ["a1,0.5,campaign,c1,", "a2,2.0,suspect,,"])
    with pytest.raises(InputError, match=r"accounts.csv:3: field 'risk'"):
        apply_scan(bad, table, PolicyConfig(), actor="t")
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "accounts.csv").write_text("account_id,verdict\n")
    with pytest.raises(InputError, match="missing column"):
        apply_scan(tmp_path / "h", table, PolicyConfig(), actor="t")
    with pytest.raises(InputError, match="verdict_actions.suspect"):
        apply_scan(bad, table, PolicyConfig(verdict_actions={"suspect": "zap"}), actor="t")
