"""State-changing requests: login and logout, actions and their undo, statuses,
dispositions, STIX export and user administration. Every one checks the role and the CSRF
token and leaves an audit line."""

from __future__ import annotations

import secrets
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from distillguard.console import evidence
from distillguard.console.actions import ACTION_SPECS, apply_action, undo_action
from distillguard.console.records import (
    LABELS,
    add_disposition,
    set_status,
    withdraw_disposition,
)
from distillguard.console.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    authenticate,
    console_of,
    cookie_secure,
    guarded_form,
    read_form,
    render,
    safe_next,
    too_many_failures,
)
from distillguard.errors import InputError


async def login_form(request: Request) -> Response:
    """The login page (with a double-submit CSRF cookie)."""
    c = console_of(request)
    token = secrets.token_urlsafe(24)
    resp = render(
        request,
        "login.html.j2",
        next=safe_next(request.query_params.get("next", "")),
        login_csrf=token,
        error="",
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, c.config.cookie_secure),
    )
    return resp


async def login(request: Request) -> Response:
    """Check the password and start a session."""
    c = console_of(request)
    form = await read_form(request)
    sent, cookie = form.get("csrf", ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not cookie or not secrets.compare_digest(sent, cookie):
        raise HTTPException(403, "login form expired or forged; reload the login page")
    name, password = form.get("username", "")[:64], form.get("password", "")
    addr = request.client.host if request.client else "-"
    nxt = safe_next(form.get("next", ""))
    if too_many_failures(c, name, addr):
        c.state.audit(name or "-", "login.refused", f"user:{name}", {"addr": addr})
        raise HTTPException(429, "too many failed logins; wait 15 minutes")
    user = c.state.authenticate(name, password)
    if user is None:
        c.failures[(name, addr)].append(time.monotonic())
        c.state.audit(name or "-", "login.failed", f"user:{name}", {"addr": addr})
        return render(
            request,
            "login.html.j2",
            status_code=401,
            next=nxt,
            login_csrf=cookie,
            error="Wrong user name or password.",
        )
    c.failures.pop((name, addr), None)
    token, _ = c.state.create_session(user, c.config.session_hours * 3600)
    c.state.audit(user.name, "login", f"user:{user.name}", {"addr": addr})
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(c.config.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, c.config.cookie_secure),
        path="/",
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


async def logout(request: Request) -> Response:
    """End the session."""
    sess, _ = await guarded_form(request, "viewer")
    c = console_of(request)
    c.state.end_session(request.cookies.get(SESSION_COOKIE, ""))
    c.state.audit(sess.user.name, "logout", f"user:{sess.user.name}")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def _ttl(form: dict[str, str], default_days: float) -> float | None:
    raw = form.get("expires_days", "").strip()
    if not raw:
        return default_days * 86400 if default_days > 0 else None
    try:
        days = float(raw)
    except ValueError:
        raise InputError(f"expiry: {raw!r} is not a number of days") from None
    if not 0 < days <= 3650:
        raise InputError("expiry must be between 0 and 3650 days")
    return days * 86400


def _back(request: Request, fallback: str, note: str) -> Response:
    resp = RedirectResponse(f"{fallback}?note={note}", status_code=303)
    return resp


async def campaign_action(request: Request) -> Response:
    """Apply an action to every member of a campaign."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    cid = request.path_params["campaign_id"]
    if cid not in c.data.campaigns:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    return _act(request, form, sess.user.name, "campaign", cid, c.data.members(cid))


async def account_action(request: Request) -> Response:
    """Apply an action to one account."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    aid = request.path_params["account_id"]
    if not c.data.rows("SELECT 1 AS x FROM c_verdicts WHERE account_id = ?", [aid]):
        raise HTTPException(404, f"no account {aid!r} in this scan")
    return _act(request, form, sess.user.name, "account", aid, [aid])


def _act(
    request: Request, form: dict[str, str], user: str, kind: str, target: str, accounts: list[str]
) -> Response:
    c = console_of(request)
    action = form.get("action", "")
    if action not in ACTION_SPECS:
        raise HTTPException(400, f"unknown action {action!r}")
    params = {k: form[k] for k in ACTION_SPECS[action].params if k in form}
    res = apply_action(
        c.state,
        c.table,
        scan_id=c.data.scan_id,
        target_kind=kind,
        target_id=target,
        accounts=accounts,
        kind=action,
        params=params,
        reason=form.get("reason", "")[:500],
        actor=f"analyst:{user}",
        ttl_s=_ttl(form, 0 if action == "allow" else c.config.decision_ttl_days),
    )
    note = f"{ACTION_SPECS[action].label}: {res.changed} decision(s) written ({res.action_id})"
    return _back(request, f"/{kind}s/{target}", _q(note))


async def undo(request: Request) -> Response:
    """Undo an action (restore what each subject had before)."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    res = undo_action(
        c.state, c.table, request.path_params["action_id"], actor=f"analyst:{sess.user.name}"
    )
    rows = c.state.query(
        "SELECT target_kind, target_id FROM actions WHERE action_id = ?", (res.action_id,)
    )
    note = (
        f"undone: {res.restored} restored, {res.withdrawn} withdrawn, {res.skipped} changed since"
    )
    return _back(request, f"/{rows[0][0]}s/{rows[0][1]}", _q(note))


async def campaign_status(request: Request) -> Response:
    """Set a campaign's status."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    cid = request.path_params["campaign_id"]
    if cid not in c.data.campaigns:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    set_status(
        c.state,
        c.data.scan_id,
        cid,
        form.get("status", ""),
        actor=sess.user.name,
        note=form.get("note", "")[:500],
    )
    return _back(request, f"/campaigns/{cid}", _q(f"status set to {form.get('status')}"))


async def campaign_disposition(request: Request) -> Response:
    """Mark a whole campaign as a true or false positive (sets its status too)."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    cid = request.path_params["campaign_id"]
    if cid not in c.data.campaigns:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    label = form.get("label", "")
    reason = form.get("reason", "")[:500]
    add_disposition(
        c.state,
        c.data.scan_id,
        cid,
        c.data.members(cid),
        label,
        actor=sess.user.name,
        reason=reason,
    )
    set_status(c.state, c.data.scan_id, cid, LABELS[label], actor=sess.user.name, note=reason)
    return _back(request, f"/campaigns/{cid}", _q(f"marked {label.replace('_', ' ')}"))


async def account_disposition(request: Request) -> Response:
    """Mark one account as a true or false positive."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    aid = request.path_params["account_id"]
    if not c.data.rows("SELECT 1 AS x FROM c_verdicts WHERE account_id = ?", [aid]):
        raise HTTPException(404, f"no account {aid!r} in this scan")
    cid = c.data.campaign_of(aid) or ""
    add_disposition(
        c.state,
        c.data.scan_id,
        cid,
        [aid],
        form.get("label", ""),
        actor=sess.user.name,
        reason=form.get("reason", "")[:500],
    )
    return _back(request, f"/accounts/{aid}", _q("marked"))


async def withdraw(request: Request) -> Response:
    """Withdraw a true/false-positive marking."""
    sess, form = await guarded_form(request, "analyst")
    c = console_of(request)
    did = request.path_params["disposition_id"]
    withdraw_disposition(c.state, did, actor=sess.user.name)
    return _back(request, safe_next(form.get("back", "/campaigns")), _q("marking withdrawn"))


async def stix_export(request: Request) -> Response:
    """Download a campaign as a STIX 2.1 bundle (identifiers keyed-hashed by intel)."""
    sess, _ = await guarded_form(request, "analyst")
    c = console_of(request)
    cid = request.path_params["campaign_id"]
    if cid not in c.data.campaigns:
        raise HTTPException(404, f"no campaign {cid!r} in this scan")
    exp = evidence.export_stix(c.data, cid)
    c.state.audit(
        sess.user.name,
        "intel.export",
        f"campaign:{cid}",
        {"objects": exp.objects, "indicators": exp.indicators, "tlp": exp.tlp},
    )
    return Response(
        exp.body,
        media_type="application/stix+json;version=2.1",
        headers={"content-disposition": f'attachment; filename="{cid}.stix.json"'},
    )


async def users_page(request: Request) -> Response:
    """Users and roles (admin)."""
    authenticate(request, "admin")
    c = console_of(request)
    return render(request, "users.html.j2", users=c.state.users())


async def users_post(request: Request) -> Response:
    """Create a user, or change one's role or enabled flag (admin)."""
    sess, form = await guarded_form(request, "admin")
    c = console_of(request)
    op, name = form.get("op", ""), form.get("name", "")
    actor = sess.user.name
    if op == "add":
        c.state.add_user(name, form.get("role", ""), form.get("password", ""), actor=actor)
    elif op == "role":
        if name == actor:
            raise InputError("you cannot change your own role")
        c.state.update_user(name, role=form.get("role", ""), actor=actor)
    elif op in ("disable", "enable"):
        if name == actor:
            raise InputError("you cannot disable yourself")
        c.state.update_user(name, disabled=op == "disable", actor=actor)
    else:
        raise HTTPException(400, f"unknown operation {op!r}")
    return _back(request, "/admin/users", _q(f"{op} {name}: done"))


def _q(note: str) -> str:
    from urllib.parse import quote

    return quote(note[:200], safe="")
