"""Request plumbing shared by the console's pages: the app context, authentication and role
checks, CSRF, form parsing, rendering and the error pages (never a stack trace)."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from markupsafe import escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from distillguard.console.config import ConsoleConfig
from distillguard.console.data import ScanData
from distillguard.console.state import ConsoleState, Session
from distillguard.policy.table import DecisionTable

log = logging.getLogger("distillguard.console")

SESSION_COOKIE = "dg_session"
LOGIN_CSRF_COOKIE = "dg_login_csrf"
MAX_FORM_BYTES = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class LoginRequired(Exception):  # noqa: N818 - control flow, not an error
    """Raised by :func:`authenticate` when the request has no live session."""


@dataclass
class Console:
    """Everything the pages need (one per running console)."""

    config: ConsoleConfig
    data: ScanData
    state: ConsoleState
    table: DecisionTable
    templates: jinja2.Environment
    failures: dict[tuple[str, str], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )


def _fmt_ts(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return str(value)


def _fmt_num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and digits == 0 and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.{digits or 3}f}"
    return str(value)


def _urlq(value: Any) -> str:
    return quote(str(value), safe="")


def make_templates() -> jinja2.Environment:
    """The Jinja2 environment of the console's templates (autoescaping everything)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("distillguard.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _fmt_ts
    env.filters["num"] = _fmt_num
    env.filters["urlq"] = _urlq
    return env


def console_of(request: Request) -> Console:
    """The console serving ``request``."""
    c: Console = request.app.state.console
    return c


def authenticate(request: Request, role: str) -> Session:
    """The request's session, checking that its user has at least ``role``.

    Raises:
        LoginRequired: no live session (the caller redirects to the login page).
        HTTPException: 403 when the role is too low.
    """
    c = console_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    sess = c.state.session(token) if token else None
    if sess is None:
        raise LoginRequired
    if not sess.user.can(role):
        raise HTTPException(403, f"this needs the {role} role; you are {sess.user.role}")
    request.state.session = sess
    return sess


async def read_form(request: Request) -> dict[str, str]:
    """Parse a urlencoded form body (at most 64 KiB); the last value of each field wins.

    Raises:
        HTTPException: 413 for a larger body, 415 for another content type.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    if body and ctype != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected a urlencoded form")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    return {k: v[-1] for k, v in parsed.items()}


def check_csrf(request: Request, sess: Session, form: dict[str, str]) -> None:
    """Refuse (403) a state-changing request whose CSRF token or origin does not match."""
    sent = form.get("csrf") or request.headers.get("x-csrf-token", "")
    if not sent or not hmac.compare_digest(sent, sess.csrf):
        raise HTTPException(403, "missing or invalid CSRF token; reload the page and retry")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(403, "cross-origin request refused")


async def guarded_form(request: Request, role: str) -> tuple[Session, dict[str, str]]:
    """Authenticate with ``role``, read the form and check its CSRF token."""
    sess = authenticate(request, role)
    form = await read_form(request)
    check_csrf(request, sess, form)
    return sess, form


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **ctx: Any,
) -> HTMLResponse:
    """Render a template with the common context (user, CSRF token, config)."""
    c = console_of(request)
    sess: Session | None = getattr(request.state, "session", None)
    html = c.templates.get_template(name).render(
        request=request,
        user=sess.user if sess else None,
        csrf=sess.csrf if sess else "",
        cfg=c.config,
        data=c.data,
        path=request.url.path,
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)


def login_redirect(request: Request) -> RedirectResponse:
    """Redirect to the login page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(value: str) -> str:
    """A local path to go to after login (never another site)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/campaigns"


def cookie_secure(request: Request, mode: str) -> bool:
    """Whether to mark cookies Secure under the ``cookie_secure`` mode."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return request.url.scheme == "https"


def too_many_failures(c: Console, name: str, addr: str) -> bool:
    """True when ``name`` from ``addr`` failed too often in the last 15 minutes."""
    q = c.failures[(name, addr)]
    now = time.monotonic()
    while q and now - q[0] > 900:
        q.popleft()
    return len(q) >= c.config.login_max_failures


def error_page(request: Request, status: int, message: str) -> Response:
    """The error page (HTML, or a short text for htmx requests)."""
    titles = {
        400: "Bad request",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Too large",
        415: "Unsupported",
        429: "Too many attempts",
        500: "Something went wrong",
        503: "Unavailable",
    }
    title = titles.get(status, "Error")
    if request.headers.get("hx-request"):
        return HTMLResponse(
            f'<div class="error" role="alert">{title}: {escape(message)}</div>',
            status_code=status,
        )
    try:
        return render(request, "error.html.j2", status_code=status, title=title, message=message)
    except Exception:  # the error page must never fail; fall back to plain text
        log.exception("error page failed")
        return HTMLResponse(f"{status} {title}", status_code=status)


Handler = Callable[[Request], Awaitable[Response]]


def request_id() -> str:
    """A short id to quote in logs and error pages."""
    return "req_" + secrets.token_hex(6)
