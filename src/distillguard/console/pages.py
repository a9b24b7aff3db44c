"""Read-only pages: the campaign queue, campaign, account, intel, audits and audit log."""

from __future__ import annotations

import functools
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from distillguard.console import charts, evidence, queries
from distillguard.console.actions import ACTION_SPECS, action_history, current_decisions
from distillguard.console.data import Page
from distillguard.console.graph import graph_body
from distillguard.console.records import STATUSES, dispositions, statuses
from distillguard.console.web import authenticate, console_of, render


def _int(request: Request, name: str, default: int, lo: int = 1, hi: int = 10**9) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"query parameter {name!r} must be a whole number") from None
    return min(max(value, lo), hi)


def _campaign(request: Request) -> tuple[str, Any]:
    c = console_of(request)
    cid = request.path_params["campaign_id"]
    info = c.data.campaigns.get(cid)
    if info is None:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    return cid, info


async def queue_page(request: Request) -> Response:
    """The campaign queue: ranked by risk, with filters and search."""
    authenticate(request, "viewer")
    c = console_of(request)
    flt = queries.QueueFilter(
        status=request.query_params.get("status", ""),
        tactic=request.query_params.get("tactic", ""),
        q=request.query_params.get("q", "")[:200],
        min_size=_int(request, "min_size", 0, 0),
    )
    if flt.status and flt.status not in STATUSES:
        raise HTTPException(400, f"unknown status {flt.status!r}")
    page = _int(request, "page", 1)
    size = c.config.page_size
    rows, total = queries.queue(c.data, statuses(c.state, c.data.scan_id), flt, page, size)
    tactics = sorted({a for ci in c.data.campaigns.values() for a in ci.atlas_ids})
    name = "_queue_rows.html.j2" if request.headers.get("hx-request") else "queue.html.j2"
    return render(
        request,
        name,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        flt=flt,
        statuses=STATUSES,
        tactics=tactics,
    )


def _campaign_evidence(c: Any, cid: str, info: Any) -> dict[str, Any]:
    """What the campaign page shows that only depends on the scan (memoised per campaign)."""
    d, show = c.data, c.config.show_prompts
    members = queries.members(d, cid, 1, c.config.page_size, "risk")
    sample = [r["account_id"] for r in members.rows[:20]]
    return {
        "members": members,
        "links": queries.strongest_links(d, cid, 1, 20),
        "kinds": queries.edge_kinds(d, cid),
        "families": queries.families(d, cid, show),
        "examples": queries.example_prompts(d, sample, show),
        "rules": _rules(info.evidence.get("rules_fired") or {}),
        "intel": queries.intel_hits(
            d, "SELECT account_id FROM c_members WHERE campaign_id = ?", [cid]
        ),
        "timeline": charts.timeline_spec(queries.timeline(d, cid), d.unit, ("events", "accounts")),
        "tactic_chart": charts.tactic_spec(info.tactics),
    }


async def campaign_page(request: Request) -> Response:
    """Everything about one campaign."""
    authenticate(request, "viewer")
    c = console_of(request)
    cid, info = _campaign(request)
    d = c.data
    ev = d.cached("campaign", cid, lambda: _campaign_evidence(c, cid, info), limit=64)
    cached: Page = ev["members"]
    members = Page([dict(r) for r in cached.rows], cached.total, cached.page, cached.size)
    _decorate_decisions(request, members.rows)
    all_reports = evidence.audit_reports(c.config.audit_dir)
    reports = evidence.reports_for(all_reports, cid, set(d.members(cid))) if all_reports else []
    return render(
        request,
        "campaign.html.j2",
        c=info,
        status=statuses(c.state, d.scan_id).get(cid, "new"),
        statuses=STATUSES,
        sort="risk",
        reports=reports,
        actions=ACTION_SPECS,
        history=action_history(c.state, "campaign", cid),
        marks=dispositions(c.state, campaign_id=cid),
        large=info.size > c.config.graph_max_nodes,
        **(ev | {"members": members}),
    )


async def members_fragment(request: Request) -> Response:
    """One page of a campaign's members (htmx fragment)."""
    authenticate(request, "viewer")
    c = console_of(request)
    cid, _ = _campaign(request)
    sort = request.query_params.get("sort", "risk")
    if sort not in queries.MEMBER_SORTS:
        raise HTTPException(400, f"unknown sort {sort!r}")
    members = queries.members(c.data, cid, _int(request, "page", 1), c.config.page_size, sort)
    _decorate_decisions(request, members.rows)
    return render(request, "_members.html.j2", cid=cid, members=members, sort=sort)


async def links_fragment(request: Request) -> Response:
    """One page of a campaign's strongest links with their reasons (htmx fragment)."""
    authenticate(request, "viewer")
    c = console_of(request)
    cid, _ = _campaign(request)
    links = queries.strongest_links(c.data, cid, _int(request, "page", 1), 20)
    return render(request, "_links.html.j2", cid=cid, links=links)


async def graph_json(request: Request) -> Response:
    """The campaign's compact graph document for cytoscape.js (precomputed with its layout)."""
    authenticate(request, "viewer")
    c = console_of(request)
    cid, _ = _campaign(request)
    body = graph_body(c.data, cid)
    if body is None:
        raise HTTPException(404, f"no graph for campaign {cid!r}")
    return Response(body, media_type="application/json")


async def edge_json(request: Request) -> Response:
    """Why two accounts are linked, as JSON (what the graph panel shows on click)."""
    authenticate(request, "viewer")
    c = console_of(request)
    cid, _ = _campaign(request)
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    if not a or not b:
        raise HTTPException(400, "give both accounts: ?a=ACCOUNT&b=ACCOUNT")
    reasons = queries.edge_reasons(c.data, a, b, cid)
    if not reasons:
        raise HTTPException(404, f"no link between {a!r} and {b!r} in {cid!r}")
    doc = {"campaign_id": cid, "a": min(a, b), "b": max(a, b), "reasons": reasons}
    return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json")


async def edge_page(request: Request) -> Response:
    """Why two accounts are linked."""
    authenticate(request, "viewer")
    c = console_of(request)
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    if not a or not b:
        raise HTTPException(400, "give both accounts: ?a=ACCOUNT&b=ACCOUNT")
    cid = request.path_params["campaign_id"]
    if cid not in c.data.campaigns:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    reasons = queries.edge_reasons(c.data, a, b, cid) or queries.edge_reasons(c.data, a, b)
    if not reasons:
        raise HTTPException(404, f"no link between {a!r} and {b!r}")
    return render(request, "edge.html.j2", cid=cid, a=a, b=b, reasons=reasons)


async def account_page(request: Request) -> Response:
    """One account: verdict, features against the population, timeline, decisions."""
    authenticate(request, "viewer")
    c = console_of(request)
    aid = request.path_params["account_id"]
    row = queries.account(c.data, aid)
    if row is None:
        raise HTTPException(404, f"no account {aid!r} in this scan")
    show = c.config.show_prompts
    current = current_decisions(c.table, [f"account:{aid}"]).get(f"account:{aid}")
    history = c.state.query(
        "SELECT decision_id, action, params, reason, created_by, created_at, expires_at, "
        "revoked_at FROM decisions WHERE subject_kind = 'account' AND subject_id = ? "
        "ORDER BY created_at DESC LIMIT 100",
        (aid,),
    )
    return render(
        request,
        "account.html.j2",
        a=row,
        features=queries.feature_table(c.data, row),
        timeline=charts.timeline_spec(
            queries.account_timeline(c.data, aid), c.data.unit, ("events",)
        ),
        examples=c.data.cached(
            "acct-examples", aid, lambda: queries.example_prompts(c.data, [aid], show, 5)
        ),
        current=current,
        decisions=history,
        actions=ACTION_SPECS,
        history=action_history(c.state, "account", aid),
        marks=dispositions(c.state, account_id=aid),
        intel=queries.intel_hits(c.data, "?", [aid]),
    )


async def intel_page(request: Request) -> Response:
    """Imported indicators and how many local accounts each one hit."""
    authenticate(request, "viewer")
    c = console_of(request)
    page = _int(request, "page", 1)
    return render(
        request,
        "intel.html.j2",
        indicators=evidence.indicators(c.data, page, c.config.page_size),
        has_tables="intel_indicators" in c.data.tables,
    )


async def indicator_page(request: Request) -> Response:
    """One imported indicator and the accounts it hit."""
    authenticate(request, "viewer")
    c = console_of(request)
    iid = request.path_params["indicator_id"]
    ind = evidence.indicator(c.data, iid)
    if ind is None:
        raise HTTPException(404, f"no imported indicator {iid!r}")
    return render(request, "indicator.html.j2", ind=ind)


async def audits_page(request: Request) -> Response:
    """Watermark and canary audit reports."""
    authenticate(request, "viewer")
    c = console_of(request)
    return render(
        request,
        "audits.html.j2",
        reports=evidence.audit_reports(c.config.audit_dir),
        folder=c.config.audit_dir,
    )


async def audit_page(request: Request) -> Response:
    """One audit report's results."""
    authenticate(request, "viewer")
    c = console_of(request)
    rep = evidence.audit_report(c.config.audit_dir, request.path_params["name"])
    if rep is None:
        raise HTTPException(404, f"no audit report {request.path_params['name']!r}")
    return render(request, "audit.html.j2", r=rep)


async def audit_html(request: Request) -> Response:
    """The audit's own HTML report, sandboxed (no scripts, no same-origin)."""
    authenticate(request, "viewer")
    c = console_of(request)
    rep = evidence.audit_report(c.config.audit_dir, request.path_params["name"])
    if rep is None or not rep.has_html:
        raise HTTPException(404, "no HTML report for this audit")
    return FileResponse(
        rep.path.with_suffix(".html"),
        media_type="text/html",
        headers={
            "content-security-policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"
        },
    )


async def audit_log_page(request: Request) -> Response:
    """The console's append-only audit log (who did what, when, why)."""
    authenticate(request, "analyst")
    c = console_of(request)
    page = _int(request, "page", 1)
    size = c.config.page_size
    prefix = request.query_params.get("subject", "")[:200]
    entries, total = c.state.audit_entries(
        subject_prefix=prefix, limit=size, offset=(page - 1) * size
    )
    return render(
        request,
        "audit_log.html.j2",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        subject=prefix,
        check=c.state.verify_audit() if page == 1 and not prefix else None,
    )


def _decorate_decisions(request: Request, rows: list[dict[str, Any]]) -> None:
    c = console_of(request)
    cur = current_decisions(c.table, [f"account:{r['account_id']}" for r in rows])
    for r in rows:
        d = cur.get(f"account:{r['account_id']}")
        r["decision"] = "+".join(d.actions) if d else ""


@functools.lru_cache(maxsize=1)
def _known_rules() -> dict[str, Any]:
    from distillguard.detect.ruleset import load_rules

    try:
        return {r.id: r for r in load_rules()}
    except Exception:  # a broken rules folder must not break the campaign page
        return {}


def _rules(fired: dict[str, Any]) -> list[dict[str, Any]]:
    known = _known_rules()
    out = []
    for rid, n in fired.items():
        r = known.get(rid)
        out.append(
            {
                "id": rid,
                "accounts": n,
                "title": r.title if r else rid,
                "level": r.level if r else "",
                "atlas": list(r.atlas) if r else [],
            }
        )
    return out
