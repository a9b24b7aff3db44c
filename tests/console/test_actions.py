"""Actions through the decision table, their undo, roles, CSRF, dispositions and audit."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.console.cli import console as console_cmd
from distillguard.console.state import ConsoleState
from distillguard.policy import make_decision, resolve

from .conftest import PASSWORD, Env, login, make_env


@pytest.fixture()
def fresh(scan_dir: Path, summary_dir: Path) -> Env:
    e = make_env(scan_dir, summary_dir)
    yield e
    e.client.close()
    e.console.data.close()


def _members(e: Env, cid: str = "campaign-001") -> list[str]:
    return e.console.data.members(cid)


def test_viewer_cannot_act(fresh: Env) -> None:
    csrf = login(fresh.client, "vic")
    r = fresh.client.post(
        "/campaigns/campaign-001/actions", data={"csrf": csrf, "action": "suspend", "reason": "x"}
    )
    assert r.status_code == 403 and "analyst role" in r.text
    assert fresh.publisher.table == {}
    assert fresh.client.get("/admin/users").status_code == 403


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_forged_or_missing_csrf_is_refused(fresh: Env, token: str) -> None:
    login(fresh.client, "ann")
    data = {"action": "suspend", "reason": "x"} | ({"csrf": token} if token else {})
    r = fresh.client.post("/campaigns/campaign-001/actions", data=data)
    assert r.status_code == 403 and "CSRF" in r.text
    assert fresh.publisher.table == {}


def test_cross_origin_post_is_refused(fresh: Env) -> None:
    csrf = login(fresh.client, "ann")
    r = fresh.client.post(
        "/campaigns/campaign-001/status",
        data={"csrf": csrf, "status": "investigating"},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_suspend_campaign_blocks_every_member_and_undo_restores(fresh: Env) -> None:
    members = _members(fresh)
    keep = make_decision("account", members[0], "throttle", params={"rpm": 5}, created_by="scan:x")
    fresh.publisher.publish(keep)
    csrf = login(fresh.client, "ann")
    r = fresh.client.post(
        "/campaigns/campaign-001/actions",
        data={"csrf": csrf, "action": "suspend", "reason": "confirmed hydra"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    table = fresh.publisher.table
    assert {f"account:{a}" for a in members} <= set(table)
    for a in members:
        enf = resolve([table[f"account:{a}"]])
        assert enf.refusal is not None and enf.refusal.code == "account_blocked"
    merged = table[f"account:{members[0]}"]
    assert merged.actions == ("throttle", "block") and merged.params == {"rpm": 5}
    action_id = fresh.state.query("SELECT action_id FROM actions")[0][0]
    page = fresh.client.get("/campaigns/campaign-001")
    assert "confirmed hydra" in page.text and f"/actions/{action_id}/undo" in page.text
    u = fresh.client.post(f"/actions/{action_id}/undo", data={"csrf": csrf})
    assert u.status_code == 200
    assert table[f"account:{members[0]}"].actions == ("throttle",)
    assert table[f"account:{members[0]}"].created_by == "scan:x"
    assert all(f"account:{a}" not in table for a in members[1:])
    again = fresh.client.post(f"/actions/{action_id}/undo", data={"csrf": csrf})
    assert again.status_code == 400 and "already undone" in again.text
    actions = [r[0] for r in fresh.state.query("SELECT action FROM audit_log ORDER BY seq")]
    assert "action.suspend" in actions and "action.undo" in actions
    assert actions.count("decision.put") >= len(members)
    assert fresh.state.verify_audit().ok


def test_undo_leaves_alone_what_changed_since(fresh: Env) -> None:
    csrf = login(fresh.client, "ann")
    aid = _members(fresh)[1]
    fresh.client.post(
        f"/accounts/{aid}/actions", data={"csrf": csrf, "action": "strip", "reason": "r"}
    )
    other = make_decision("account", aid, "block", created_by="analyst:someone")
    fresh.publisher.publish(other)
    action_id = fresh.state.query("SELECT action_id FROM actions")[0][0]
    r = fresh.client.post(f"/actions/{action_id}/undo", data={"csrf": csrf})
    assert "1 changed since" in r.text
    assert fresh.publisher.table[f"account:{aid}"].decision_id == other.decision_id


def test_throttle_params_and_allow_list_needs_expiry(fresh: Env) -> None:
    csrf = login(fresh.client, "ann")
    aid = _members(fresh)[2]
    fresh.client.post(
        f"/accounts/{aid}/actions",
        data={"csrf": csrf, "action": "throttle", "rpm": "7", "tpm": "", "reason": "slow down"},
    )
    d = fresh.publisher.table[f"account:{aid}"]
    assert d.actions == ("throttle",) and d.params == {"rpm": 7}
    bad = fresh.client.post(
        f"/accounts/{aid}/actions", data={"csrf": csrf, "action": "allow", "reason": "vetted"}
    )
    assert bad.status_code == 400 and "expiry" in bad.text
    ok = fresh.client.post(
        f"/accounts/{aid}/actions",
        data={"csrf": csrf, "action": "allow", "reason": "vetted lab", "expires_days": "30"},
    )
    assert ok.status_code == 200
    d = fresh.publisher.table[f"account:{aid}"]
    assert d.actions == ("allow",) and d.expires_at is not None
    assert 29.9 * 86400 < d.expires_at - d.created_at <= 30 * 86400
    page = fresh.client.get(f"/accounts/{aid}")
    assert "allow" in page.text and "vetted lab" in page.text
    missing = fresh.client.post(
        f"/accounts/{aid}/actions", data={"csrf": csrf, "action": "strip", "reason": " "}
    )
    assert missing.status_code == 400 and "reason" in missing.text


def test_dispositions_set_status_and_export_labels(fresh: Env, tmp_path: Path) -> None:
    from distillguard.console.records import export_labels

    csrf = login(fresh.client, "ann")
    fresh.client.post(
        "/campaigns/campaign-001/disposition",
        data={"csrf": csrf, "label": "true_positive", "reason": "matches ground truth"},
    )
    legit = fresh.console.data.rows(
        "SELECT account_id FROM c_verdicts WHERE verdict = 'legit' ORDER BY account_id LIMIT 1"
    )[0]["account_id"]
    fresh.client.post(
        f"/accounts/{legit}/disposition",
        data={"csrf": csrf, "label": "false_positive", "reason": "eval harness"},
    )
    q = fresh.client.get("/campaigns", params={"status": "confirmed"})
    assert "campaign-001" in q.text
    assert (
        "No campaign matches" in fresh.client.get("/campaigns", params={"status": "dismissed"}).text
    )
    res = export_labels(fresh.state, tmp_path / "labels.csv")
    with (tmp_path / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    pos = {r["account_id"] for r in rows if r["campaign_id"] == "campaign-001"}
    neg = {r["account_id"] for r in rows if r["campaign_id"] == ""}
    assert pos == set(_members(fresh, "campaign-001"))
    assert neg == {legit}
    assert res.positives == len(pos)
    did = fresh.state.query(
        "SELECT disposition_id FROM dispositions WHERE label = 'false_positive'"
    )
    fresh.client.post(f"/dispositions/{did[0][0]}/withdraw", data={"csrf": csrf, "back": "/"})
    assert export_labels(fresh.state, tmp_path / "l2.csv").accounts == len(pos)


def test_audit_log_is_append_only_and_tamper_evident(fresh: Env) -> None:
    csrf = login(fresh.client, "ann")
    fresh.client.post(
        "/campaigns/campaign-001/status", data={"csrf": csrf, "status": "investigating"}
    )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        fresh.state.db.execute("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        fresh.state.db.execute("DELETE FROM audit_log")
    page = fresh.client.get("/audit-log")
    assert "campaign.status" in page.text and "intact" in page.text
    # someone with file access drops the trigger and edits a line: the chain shows it
    fresh.state.db.execute("DROP TRIGGER audit_no_update")
    fresh.state.db.execute("UPDATE audit_log SET actor = 'mallory' WHERE action = 'login'")
    chk = fresh.state.verify_audit()
    assert not chk.ok and chk.first_bad_seq is not None


def test_stix_export_of_a_campaign(
    fresh: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.intel.keys import generate_key_file

    generate_key_file(tmp_path / "community.key")
    monkeypatch.setenv("DISTILLGUARD_INTEL_COMMUNITY_KEY_FILE", str(tmp_path / "community.key"))
    csrf = login(fresh.client, "ann")
    r = fresh.client.post("/campaigns/campaign-001/stix", data={"csrf": csrf})
    assert r.status_code == 200, r.text
    bundle = json.loads(r.content)
    assert bundle["type"] == "bundle"
    assert any(o["type"] == "campaign" for o in bundle["objects"])
    members = _members(fresh, "campaign-001")
    assert not any(m in r.text for m in members)  # identifiers leave only as keyed hashes


def test_admin_manages_users(fresh: Env) -> None:
    csrf = login(fresh.client, "ada")
    r = fresh.client.post(
        "/admin/users",
        data={"csrf": csrf, "op": "add", "name": "bob", "role": "viewer", "password": "short"},
    )
    assert r.status_code == 400 and "at least 12" in r.text
    fresh.client.post(
        "/admin/users",
        data={"csrf": csrf, "op": "add", "name": "bob", "role": "viewer", "password": PASSWORD},
    )
    fresh.client.post(
        "/admin/users", data={"csrf": csrf, "op": "role", "name": "bob", "role": "analyst"}
    )
    assert fresh.state.get_user("bob").role == "analyst"
    fresh.client.post("/admin/users", data={"csrf": csrf, "op": "disable", "name": "bob"})
    assert fresh.state.authenticate("bob", PASSWORD) is None


def test_cli_user_add_and_no_default_password(scan_dir: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    runner = CliRunner()
    r = runner.invoke(console_cmd, ["--db", str(scan_dir / "scan.duckdb"), "--state", str(state)])
    assert r.exit_code != 0
    assert "no console users" in str(r.exception) and "user add" in str(r.exception)
    r = runner.invoke(
        console_cmd,
        ["--state", str(state), "user", "add", "alice", "--role", "admin"],
        env={"DISTILLGUARD_CONSOLE_PASSWORD": PASSWORD},
    )
    assert r.exit_code == 0, r.output
    st = ConsoleState(state)
    try:
        assert st.authenticate("alice", PASSWORD).role == "admin"
        assert st.authenticate("alice", "wrong password") is None
        stored = st.query("SELECT pw_hash FROM users")[0][0]
        assert stored.startswith("scrypt$") and PASSWORD not in stored
    finally:
        st.close()
