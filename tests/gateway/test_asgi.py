"""The plain-ASGI ``/v1`` path: header parsing, dispatch, chunked bodies, disconnects, 405/500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from distillguard.errors import ConfigError
from distillguard.events import decode_event
from distillguard.gateway.asgi import Dispatcher, Incoming
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.server import make_app

from .helpers import SECRET, Fakes, fake_gateway

CHAT = b'{"model":"standin-1","max_tokens":3,"messages":[{"role":"user","content":"hi there"}]}'


@pytest.fixture()
def fx(tmp_path: Path) -> Fakes:
    return fake_gateway(tmp_path)


def _events(spool: Path) -> list[Any]:
    out = []
    for f in sorted(spool.rglob("seg-*")):
        for line in f.read_bytes().splitlines():
            if line and not line.startswith(b'{"_dg_control"'):
                out.append(decode_event(line))
    return out


def _scope(path: str, method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("10.1.2.3", 40000),
        "server": ("127.0.0.1", 8080),
        "headers": headers,
    }


def test_incoming_reads_first_header_of_each_name() -> None:
    scope = _scope(
        "/v1/chat/completions",
        "POST",
        [
            (b"authorization", b"Bearer a"),
            (b"authorization", b"Bearer b"),
            (b"user-agent", b"caf\xe9"),
            (b"x-request-id", b"mine-1"),
            (b"content-length", b"12"),
        ],
    )
    inc = Incoming(scope, lambda: None)  # type: ignore[arg-type,return-value]
    assert inc.authorization == "Bearer a"
    assert inc.user_agent == "café"  # latin-1, as Starlette decodes
    assert (inc.request_id, inc.content_length, inc.client_host) == ("mine-1", "12", "10.1.2.3")
    bare = Incoming({**scope, "headers": [], "client": None}, lambda: None)  # type: ignore[arg-type,return-value]
    assert (bare.authorization, bare.user_agent, bare.request_id, bare.client_host) == (
        None,
        None,
        None,
        None,
    )


def test_dispatcher_matches_method_and_exact_path_only() -> None:
    seen: list[str] = []

    def app(name: str) -> Any:
        async def run(scope: Any, receive: Any, send: Any) -> None:
            seen.append(name)

        return run

    d = Dispatcher({("POST", "/v1/x"): app("fast")}, app("fallback"))

    async def go() -> None:
        for method, path in (
            ("POST", "/v1/x"),
            ("GET", "/v1/x"),
            ("POST", "/v1/x/"),
            ("POST", "/"),
        ):
            await d(_scope(path, method, []), None, None)  # type: ignore[arg-type]
        await d({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    asyncio.run(go())
    assert seen == ["fast", "fallback", "fallback", "fallback", "fallback"]


def _drive(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run one request through ``app``; the messages it sent."""
    out: list[dict[str, Any]] = []

    async def go() -> None:
        queue = list(messages)

        async def receive() -> dict[str, Any]:
            if queue:
                return queue.pop(0)
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(m: dict[str, Any]) -> None:
            out.append(m)

        await app(scope, receive, send)
        await app.endpoints[("GET", "/v1/models")].gw.stop()  # flushes the spool

    asyncio.run(go())
    return out


def test_body_in_several_chunks_is_assembled(fx: Fakes) -> None:
    key = fx.keys.create("acct1", org_id="org1", actor="t").raw_key
    app = make_app(fx.gateway)
    parts = [CHAT[:10], CHAT[10:40], CHAT[40:]]
    msgs = [{"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(parts)]
    headers = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
    out = _drive(app, _scope("/v1/chat/completions", "POST", headers), msgs)
    start = out[0]
    assert start["status"] == 200
    hdrs = dict(start["headers"])
    assert hdrs[b"x-request-id"].startswith(b"req_")
    assert hdrs[b"content-type"] == b"application/json"
    assert int(hdrs[b"content-length"]) == len(out[1]["body"])
    assert msgspec.json.decode(out[1]["body"])["object"] == "chat.completion"
    (ev,) = _events(fx.spool_dir)
    assert (ev.status, ev.client.ip, ev.request_id) == (
        200,
        "10.1.2.3",
        hdrs[b"x-request-id"].decode(),
    )


def test_disconnect_before_body_ends_records_499_and_answers_nothing(fx: Fakes) -> None:
    key = fx.keys.create("acct1", org_id="org1", actor="t").raw_key
    app = make_app(fx.gateway)
    msgs = [
        {"type": "http.request", "body": CHAT[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    headers = [(b"authorization", f"Bearer {key}".encode())]
    out = _drive(app, _scope("/v1/chat/completions", "POST", headers), msgs)
    assert out == []
    (ev,) = _events(fx.spool_dir)
    assert ev.status == 499
    assert ev.extra["error_code"] == "client_disconnected"


def test_streamed_body_over_the_cap_is_413(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path, body_max_bytes=50)
    app = make_app(fx.gateway)
    msgs = [
        {"type": "http.request", "body": CHAT[:40], "more_body": True},
        {"type": "http.request", "body": CHAT[40:], "more_body": False},
    ]
    out = _drive(app, _scope("/v1/chat/completions", "POST", []), msgs)
    assert out[0]["status"] == 413
    assert msgspec.json.decode(out[1]["body"])["error"]["code"] == "request_too_large"


def test_wrong_method_on_a_v1_path_is_405_in_openai_shape(fx: Fakes) -> None:
    with TestClient(make_app(fx.gateway)) as c:
        r = c.get("/v1/chat/completions")
        assert r.status_code == 405
        assert r.json()["error"]["code"] == "method_not_allowed"
        assert r.headers["x-request-id"].startswith("req_")
        r = c.post("/v1/models")
        assert r.status_code == 405


def test_handler_crash_is_500_with_request_id(fx: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(request: Incoming) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(fx.gateway, "models_route", boom)
    with TestClient(make_app(fx.gateway), raise_server_exceptions=False) as c:
        r = c.get("/v1/models")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert r.headers["x-request-id"].startswith("req_")


def test_keep_alive_is_validated_and_passed_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert GatewayConfig().keep_alive_s == 75.0
    with pytest.raises(ConfigError, match="keep_alive_s"):
        GatewayConfig(keep_alive_s=0)
    import uvicorn

    from distillguard.gateway.cli import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    for k, v in {
        "DISTILLGUARD_GATEWAY_KEY_SECRET": SECRET,
        "DISTILLGUARD_GATEWAY_SINK": "false",
        "DISTILLGUARD_GATEWAY_KEEP_ALIVE_S": "90.5",
        "DISTILLGUARD_GATEWAY_SPOOL_DIR": str(tmp_path / "spool"),
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    res = CliRunner().invoke(serve, [])  # no options: serve writes none into os.environ
    assert res.exit_code == 0, res.output
    assert seen["timeout_keep_alive"] == 91
    assert (seen["http"], seen["access_log"]) == ("httptools", False)
