"""The console's Starlette application: routes, role checks, security headers, error pages.

Build the app with :func:`create_app` from a :class:`distillguard.console.web.Console`
(tests pass in-memory fakes of the decision table) or with :func:`build_console` from the
configuration (Redis decision table, SQLite state, the scan's DuckDB file).
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distillguard.console import mutations, pages
from distillguard.console.config import ConsoleConfig
from distillguard.console.records import ConsoleDecisionLog
from distillguard.console.state import ConsoleState
from distillguard.console.summaries import open_scan
from distillguard.console.web import (
    CSP,
    Console,
    LoginRequired,
    error_page,
    login_redirect,
    make_templates,
    request_id,
)
from distillguard.errors import ConfigError, DistillguardError, GatewayError, InputError
from distillguard.policy.table import DecisionPublisher, DecisionTable

log = logging.getLogger("distillguard.console")

#: path, handler, methods. Each handler checks its own role (see ROLE_OF in docs/console.md).
ROUTES: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
    ("/login", mutations.login_form, ("GET",)),
    ("/login", mutations.login, ("POST",)),
    ("/logout", mutations.logout, ("POST",)),
    ("/campaigns", pages.queue_page, ("GET",)),
    ("/campaigns/{campaign_id}", pages.campaign_page, ("GET",)),
    ("/campaigns/{campaign_id}/members", pages.members_fragment, ("GET",)),
    ("/campaigns/{campaign_id}/links", pages.links_fragment, ("GET",)),
    ("/campaigns/{campaign_id}/graph.json", pages.graph_json, ("GET",)),
    ("/campaigns/{campaign_id}/edge", pages.edge_page, ("GET",)),
    ("/campaigns/{campaign_id}/edge.json", pages.edge_json, ("GET",)),
    ("/campaigns/{campaign_id}/actions", mutations.campaign_action, ("POST",)),
    ("/campaigns/{campaign_id}/status", mutations.campaign_status, ("POST",)),
    ("/campaigns/{campaign_id}/disposition", mutations.campaign_disposition, ("POST",)),
    ("/campaigns/{campaign_id}/stix", mutations.stix_export, ("POST",)),
    ("/accounts/{account_id}", pages.account_page, ("GET",)),
    ("/accounts/{account_id}/actions", mutations.account_action, ("POST",)),
    ("/accounts/{account_id}/disposition", mutations.account_disposition, ("POST",)),
    ("/actions/{action_id}/undo", mutations.undo, ("POST",)),
    ("/dispositions/{disposition_id}/withdraw", mutations.withdraw, ("POST",)),
    ("/intel", pages.intel_page, ("GET",)),
    ("/intel/{indicator_id}", pages.indicator_page, ("GET",)),
    ("/audits", pages.audits_page, ("GET",)),
    ("/audits/{name}", pages.audit_page, ("GET",)),
    ("/audits/{name}/report.html", pages.audit_html, ("GET",)),
    ("/audit-log", pages.audit_log_page, ("GET",)),
    ("/admin/users", mutations.users_page, ("GET",)),
    ("/admin/users", mutations.users_post, ("POST",)),
)


async def _home(request: Request) -> Response:
    return RedirectResponse("/campaigns", status_code=303)


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def _security_headers(app: ASGIApp) -> ASGIApp:
    """Add CSP and friends to every response (an audit report's own CSP is kept)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cache-control": b"no-store",
                }
                for k, v in extra.items():
                    if k not in names:
                        headers.append((k, v))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with)

    return wrapped


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code, str(exc.detail))


async def _on_login(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    if request.method != "GET":
        return error_page(request, 401, "your session has ended; log in again")
    return login_redirect(request)


async def _on_ours(request: Request, exc: Exception) -> Response:
    status = 400 if isinstance(exc, InputError | ConfigError) else 503
    if isinstance(exc, GatewayError):
        log.warning("console: %s", exc)
    return error_page(request, status, str(exc))


async def _on_any(request: Request, exc: Exception) -> Response:
    rid = request_id()
    log.error(
        "console: unhandled error %s on %s %s", rid, request.method, request.url.path, exc_info=exc
    )
    return error_page(request, 500, f"an internal error occurred (reference {rid})")


def create_app(console: Console) -> Starlette:
    """The ASGI application serving ``console``."""
    static = resources.files("distillguard.console").joinpath("static")
    routes: list[Any] = [
        Route("/", _home),
        Route("/healthz", _health),
        Mount("/static", app=StaticFiles(directory=str(static)), name="static"),
    ]
    routes += [Route(p, h, methods=list(m)) for p, h, m in ROUTES]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _on_http,
            LoginRequired: _on_login,
            DistillguardError: _on_ours,
            Exception: _on_any,
        },
    )
    app.state.console = console
    app.add_middleware(_Headers)
    return app


class _Headers:
    """Starlette middleware form of :func:`_security_headers`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = _security_headers(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def build_console(
    config: ConsoleConfig,
    db: str | Path,
    results: str | Path | None = None,
    *,
    publisher: DecisionPublisher | None = None,
) -> Console:
    """Open the scan, the state and the decision table named by ``config``.

    Args:
        config: the ``[console]`` section.
        db: the scan's DuckDB file.
        results: the scan's output folder (default: the folder of ``db``).
        publisher: where decisions are published; default Redis at ``config.redis_url`` (or
            ``[gateway] redis_url``).

    Raises:
        ConfigError: no user exists yet (add one with ``distillguard console user add``).
        InputError, StoreError: the scan cannot be read.
    """
    state = ConsoleState(config.state_path)
    if state.count_users() == 0:
        state.close()
        raise ConfigError(
            f"no console users in {config.state_path}: there is no default password. "
            "Create an admin first: distillguard console user add NAME --role admin"
        )
    forward = None
    if publisher is None or config.ship_to_spool:
        from distillguard.gateway.config import load_gateway_config

        gw = load_gateway_config()
        if publisher is None:
            import redis

            from distillguard.policy.table import RedisPublisher

            client = redis.Redis.from_url(
                config.redis_url or gw.redis_url, socket_timeout=5, socket_connect_timeout=5
            )
            publisher = RedisPublisher(client)
        if config.ship_to_spool:
            import os
            import socket

            from distillguard.gateway.control import SpoolDecisionLog
            from distillguard.gateway.spool import SpoolWriter

            forward = SpoolDecisionLog(
                SpoolWriter(gw.spool_dir, f"console-{socket.gethostname()}-{os.getpid()}")
            )
    data = open_scan(
        db,
        results,
        cache_dir=config.summary_dir if config.summary_cache else None,
        graph_max_nodes=config.graph_max_nodes,
        graph_max_edges=config.graph_max_edges,
    )
    table = DecisionTable(publisher, ConsoleDecisionLog(state, forward))
    return Console(config, data, state, table, make_templates())
