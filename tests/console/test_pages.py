"""Pages, roles, CSRF, escaping and error pages, through the real app with TestClient."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import PASSWORD, XSS_ACCOUNT, XSS_PROMPT, Env, login, make_env


def test_unauthenticated_is_redirected_to_login(env: Env) -> None:
    env.client.cookies.clear()
    for path in ("/campaigns", "/campaigns/campaign-001", "/accounts/x", "/intel"):
        r = env.client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
    r = env.client.post("/campaigns/campaign-001/actions", data={"action": "suspend"})
    assert r.status_code == 401 and "Traceback" not in r.text
    assert env.publisher.table == {}


def test_login_sets_a_hardened_session_cookie(env: Env) -> None:
    env.client.cookies.clear()
    page = env.client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    bad = env.client.post(
        "/login", data={"csrf": token, "username": "ann", "password": "wrong password!"}
    )
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    r = env.client.post(
        "/login",
        data={"csrf": token, "username": "ann", "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/campaigns"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert env.client.get("/campaigns").status_code == 200


def test_login_form_without_its_csrf_cookie_is_refused(env: Env) -> None:
    env.client.cookies.clear()
    r = env.client.post("/login", data={"csrf": "x", "username": "ann", "password": PASSWORD})
    assert r.status_code == 403


def test_queue_ranks_by_risk_and_filters(env: Env) -> None:
    login(env.client, "vic")
    r = env.client.get("/campaigns")
    assert r.status_code == 200
    ids = re.findall(r'href="/campaigns/(campaign-\d+)"', r.text)
    risks = [env.console.data.campaigns[i].risk for i in ids]
    assert ids and risks == sorted(risks, reverse=True)
    assert "AML.T0024.002" in r.text  # tactics carry their ATLAS ids
    member = env.console.data.members(ids[0])[0]
    found = env.client.get("/campaigns", params={"q": member})
    assert re.findall(r'href="/campaigns/(campaign-\d+)"', found.text) == [ids[0]]
    none = env.client.get("/campaigns", params={"status": "confirmed"})
    assert "No campaign matches" in none.text
    assert env.client.get("/campaigns", params={"status": "bogus"}).status_code == 400


def test_campaign_page_explains_itself(env: Env) -> None:
    login(env.client, "vic")
    cid = "campaign-001"
    r = env.client.get(f"/campaigns/{cid}")
    assert r.status_code == 200
    for part in ("Linking graph", "Member accounts", "Rules that fired", "Intel matches"):
        assert part in r.text
    assert "they reuse the same rare prompt template family" in r.text  # an edge's reason
    assert "[redacted:" in r.text  # prompt text is redacted by default
    g = env.client.get(f"/campaigns/{cid}/graph.json").json()
    assert not g["aggregated"] and g["nodes"] == env.console.data.campaigns[cid].size
    assert len(g["node"]["id"]) == len(g["node"]["x"]) == g["nodes"]
    assert g["edges"] == len(g["edge"]["s"]) > 0
    assert len(g["legend"]) == len(g["kinds"]) and all(t.startswith("they ") for t in g["legend"])
    # every edge's strongest kind is among its kinds (the bit mask) and weights are sorted
    for k, m in zip(g["edge"]["k"], g["edge"]["m"], strict=True):
        assert m & (1 << k)
    assert g["edge"]["w"] == sorted(g["edge"]["w"], reverse=True)
    a, b = g["node"]["id"][g["edge"]["s"][0]], g["node"]["id"][g["edge"]["t"][0]]
    why = env.client.get(f"/campaigns/{cid}/edge", params={"a": a, "b": b})
    assert why.status_code == 200 and "they " in why.text
    one = env.client.get(f"/campaigns/{cid}/edge.json", params={"a": b, "b": a}).json()
    kinds = {r["kind"] for r in one["reasons"]}
    assert {g["kinds"][c] for c in range(len(g["kinds"])) if g["edge"]["m"][0] & (1 << c)} == kinds
    assert all(r["text"].startswith("they ") for r in one["reasons"])
    assert abs(sum(r["weight"] for r in one["reasons"]) - g["edge"]["w"][0]) < 0.01
    bad = env.client.get(f"/campaigns/{cid}/edge.json", params={"a": a, "b": "nobody"})
    assert bad.status_code == 404 and "Traceback" not in bad.text
    members = env.client.get(f"/campaigns/{cid}/members", params={"page": 2, "sort": "volume"})
    assert members.status_code == 200


def test_large_campaign_graph_is_aggregated(scan_dir: Path) -> None:
    e = make_env(scan_dir, None, graph_max_nodes=10)
    try:
        login(e.client, "vic")
        assert e.console.data.campaigns["campaign-001"].size > 10
        g = e.client.get("/campaigns/campaign-001/graph.json").json()
        assert g["aggregated"] and g["nodes"] < g["accounts"]
        assert sum(g["node"]["accounts"]) == g["accounts"]
        assert len(g["edge"]["c"]) == g["edges"]
        assert "drawn as sub-clusters" in e.client.get("/campaigns/campaign-001").text
    finally:
        e.client.close()
        e.console.data.close()


def test_account_page_places_features_in_the_population(env: Env) -> None:
    login(env.client, "vic")
    aid = env.console.data.members("campaign-001")[0]
    r = env.client.get(f"/accounts/{aid}")
    assert r.status_code == 200
    assert "Features against the population" in r.text and "n_events" in r.text
    assert re.search(r'class="bar" style="--p: \d+\.\d%"', r.text)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/campaigns/campaign-999", 404),
        ("/accounts/no-such-account", 404),
        ("/intel/indicator--nope", 404),
        ("/audits/nope", 404),
        ("/campaigns/campaign-001/edge?a=x&b=y", 404),
        ("/campaigns/campaign-001/members?page=abc", 400),
        ("/campaigns/campaign-001/members?sort=evil", 400),
    ],
)
def test_bad_ids_get_a_clear_page(env: Env, path: str, status: int) -> None:
    login(env.client, "vic")
    r = env.client.get(path)
    assert r.status_code == status
    assert "Traceback" not in r.text and "<h1>" in r.text


def test_internal_error_shows_a_reference_not_a_trace(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.console import queries

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("secret internals")

    login(env.client, "vic")
    monkeypatch.setattr(queries, "account", boom)
    r = env.client.get("/accounts/anything")
    assert r.status_code == 500
    assert "reference req_" in r.text
    assert "secret internals" not in r.text and "Traceback" not in r.text


def test_script_in_prompt_and_account_id_is_escaped(hostile_dir: Path) -> None:
    e = make_env(hostile_dir, None, show_prompts=True)
    try:
        login(e.client, "vic")
        r = e.client.get("/accounts/" + XSS_ACCOUNT.replace("<", "%3C").replace(">", "%3E"))
        assert r.status_code == 200
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in r.text
        assert XSS_PROMPT not in r.text
        assert "<img src=x" not in r.text and "<b>bold</b>" not in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
    finally:
        e.client.close()
        e.console.data.close()


def test_security_headers_on_every_page(env: Env) -> None:
    r = env.client.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert (
        "'unsafe-inline'"
        not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )


def test_timeline_and_tactic_specs_are_json(env: Env) -> None:
    login(env.client, "vic")
    r = env.client.get("/campaigns/campaign-001")
    spec = re.search(r'id="timeline-spec">(.*?)</script>', r.text, re.S).group(1)
    values = json.loads(spec)["data"]["values"]
    events = sum(v["value"] for v in values if v["series"] == "events")
    assert events == env.console.data.campaigns["campaign-001"].volume
