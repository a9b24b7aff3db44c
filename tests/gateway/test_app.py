"""The request path with in-process fakes (memory keys/decisions, local limiter, ASGI stand-in)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from starlette.testclient import TestClient

from distillguard.events import decode_event
from distillguard.gateway.server import make_app
from distillguard.gateway.standin import answer_tokens
from distillguard.policy import make_decision

from .helpers import Fakes, fake_gateway


def _events(spool: Path) -> list:
    out = []
    for f in sorted(spool.rglob("seg-*")):
        for line in f.read_bytes().splitlines():
            if line and not line.startswith(b'{"_dg_control"'):
                out.append(decode_event(line))
    return out


@pytest.fixture()
def fx(tmp_path: Path) -> Fakes:
    return fake_gateway(tmp_path)


def _client(fx: Fakes) -> TestClient:
    return TestClient(make_app(fx.gateway), raise_server_exceptions=False)


def _chat(content: str = "hello there", **kw: object) -> dict:
    return {"model": "standin-1", "messages": [{"role": "user", "content": content}], **kw}


def test_chat_roundtrip_records_one_event(fx: Fakes) -> None:
    key = fx.keys.create("acct1", org_id="org1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json=_chat(max_tokens=5),
            headers={"authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"].startswith("req_")
        text = r.json()["choices"][0]["message"]["content"]
        assert text == "".join(answer_tokens("hello there", 5))
        rid = r.headers["x-request-id"]
    evs = _events(fx.spool_dir)
    assert len(evs) == 1
    ev = evs[0]
    assert (ev.request_id, ev.account_id, ev.org_id, ev.status) == (rid, "acct1", "org1", 200)
    assert ev.response is not None and ev.response.text == text
    assert ev.usage is not None and ev.usage.output_tokens == 5
    assert ev.decision is not None and ev.decision["action"] == "allow"
    assert ev.messages is not None and ev.messages[0].content == "hello there"


def test_event_is_written_after_the_answer_with_its_account_state(fx: Fakes) -> None:
    """A whole answer goes out first; its event then carries the account's inline state."""
    key = fx.keys.create("acct_s", org_id="org1", actor="t").raw_key
    with _client(fx) as c:
        for i in range(3):
            r = c.post(
                "/v1/chat/completions",
                json=_chat(f"Summarise report {i}"),
                headers={"authorization": f"Bearer {key}"},
            )
            assert r.status_code == 200, r.text
        assert fx.gateway.spool.appended == 3  # each finished once, after its answer
    states = [e.decision["state"] for e in _events(fx.spool_dir) if e.decision]
    assert [s["requests"] for s in states] == [1.0, 2.0, 3.0]
    assert all(0.0 < s["top_template_share"] <= 1.0 for s in states)


def test_a_failing_account_state_never_loses_the_event(fx: Fakes) -> None:
    class Broken:
        def observe(self, *a: object) -> dict[str, float]:
            raise RuntimeError("state table broken")

    fx.gateway.state = Broken()  # type: ignore[assignment]
    key = fx.keys.create("acct_b", org_id="org1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post("/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
    evs = _events(fx.spool_dir)
    assert len(evs) == 1 and evs[0].status == 200 and "state" not in (evs[0].decision or {})


def test_streaming_relays_tokens_and_captures_text(fx: Fakes) -> None:
    key = fx.keys.create("acct1", actor="t").raw_key
    with (
        _client(fx) as c,
        c.stream(
            "POST",
            "/v1/chat/completions",
            json=_chat("stream me", stream=True, max_tokens=4),
            headers={"authorization": f"Bearer {key}"},
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = b"".join(r.iter_bytes())
    assert body.rstrip().endswith(b"data: [DONE]")
    evs = _events(fx.spool_dir)
    assert len(evs) == 1 and evs[0].status == 200
    assert evs[0].response.text == "".join(answer_tokens("stream me", 4))
    assert evs[0].params.stream is True


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_api_key"),
        ({"authorization": "Bearer nonsense"}, 401, "invalid_api_key"),
        ({"authorization": "Bearer dg_0123456789ab_" + "x" * 40}, 401, "invalid_api_key"),
    ],
)
def test_bad_keys_refused_and_recorded(fx: Fakes, headers: dict, status: int, code: str) -> None:
    with _client(fx) as c:
        r = c.post("/v1/chat/completions", json=_chat(), headers=headers)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code and err["type"] == "authentication_error"
    evs = _events(fx.spool_dir)
    assert len(evs) == 1 and evs[0].status == status and evs[0].account_id == "unauthenticated"


def test_revoked_key_and_rotation(fx: Fakes) -> None:
    issued = fx.keys.create("acct1", actor="t")
    with _client(fx) as c:
        h = {"authorization": f"Bearer {issued.raw_key}"}
        assert c.post("/v1/chat/completions", json=_chat(), headers=h).status_code == 200
        new = fx.keys.rotate(issued.record.key_id, actor="t")
        fx.gateway.keys.invalidate()
        r = c.post("/v1/chat/completions", json=_chat(), headers=h)
        assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_api_key"
        h2 = {"authorization": f"Bearer {new.raw_key}"}
        assert c.post("/v1/chat/completions", json=_chat(), headers=h2).status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1,2]", None),
        (b'{"model": 3, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "standin-1", "messages": []}', "messages"),
        (b'{"model": "standin-1", "messages": [{"content": "x"}]}', "messages[0]"),
        (
            b'{"model": "standin-1", "messages": [{"role": "user", "content": "x"}], '
            b'"max_tokens": -1}',
            "max_tokens",
        ),
    ],
)
def test_malformed_requests_get_openai_errors(fx: Fakes, body: bytes, param: str | None) -> None:
    key = fx.keys.create("acct1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            content=body,
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    if param:
        assert err["param"] == param
    assert len(_events(fx.spool_dir)) == 1


def test_oversized_body_is_413(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path, body_max_bytes=1000)
    key = fx.keys.create("acct1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json=_chat("x" * 5000),
            headers={"authorization": f"Bearer {key}"},
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
        # chunked upload without content-length is capped too
        r = c.post(
            "/v1/chat/completions",
            content=iter([b"x" * 600, b"y" * 600]),
            headers={"authorization": f"Bearer {key}"},
        )
        assert r.status_code == 413
    assert [e.status for e in _events(fx.spool_dir)] == [413, 413]


def test_unknown_model_is_404(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path, models=("standin-1",))
    key = fx.keys.create("acct1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json={**_chat(), "model": "gpt-99"},
            headers={"authorization": f"Bearer {key}"},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
        models = c.get("/v1/models", headers={"authorization": f"Bearer {key}"}).json()
    assert [m["id"] for m in models["data"]] == ["standin-1"]


def test_client_request_id_is_not_reflected(fx: Fakes) -> None:
    key = fx.keys.create("acct1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json=_chat(),
            headers={"authorization": f"Bearer {key}", "x-request-id": "evil<script>"},
        )
    assert r.headers["x-request-id"].startswith("req_")
    assert _events(fx.spool_dir)[0].extra["client_request_id"] == "<invalid>"


def test_every_response_has_request_id(fx: Fakes) -> None:
    with _client(fx) as c:
        for path in ("/healthz", "/metrics", "/openapi.json", "/nope"):
            r = c.get(path)
            assert "x-request-id" in r.headers, path
        r = c.get("/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_block_and_verification_refusals(fx: Fakes) -> None:
    k1 = fx.keys.create("a-block", org_id="o1", actor="t").raw_key
    k2 = fx.keys.create("a-verify", org_id="o2", actor="t").raw_key
    fx.table.put(make_decision("account", "a-block", "block", reason="campaign c1"), actor="t")
    fx.table.put(make_decision("org", "o2", "require_verification", reason="new org"), actor="t")
    with _client(fx) as c:
        r1 = c.post("/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {k1}"})
        r2 = c.post("/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {k2}"})
    assert r1.status_code == 403 and r1.json()["error"]["code"] == "account_blocked"
    assert r2.status_code == 403 and r2.json()["error"]["code"] == "verification_required"
    evs = {e.account_id: e for e in _events(fx.spool_dir)}
    assert evs["a-block"].decision["reason"] == "campaign c1"
    assert evs["a-verify"].decision["action"] == "require_verification"


def test_strip_and_cap_max_tokens(fx: Fakes) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    fx.table.put(
        make_decision(
            "account", "a1", "strip+cap_max_tokens", params={"max_tokens": 3}, reason="suspect"
        ),
        actor="t",
    )
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json=_chat(max_tokens=50, logprobs=True, standin="reasoning"),
            headers={"authorization": f"Bearer {key}"},
        )
    msg = r.json()["choices"][0]
    assert "reasoning_content" not in msg["message"] and "logprobs" not in msg
    assert r.json()["usage"]["completion_tokens"] == 3
    ev = _events(fx.spool_dir)[0]
    assert ev.decision["action"] == "strip+cap_max_tokens"


def test_strip_in_stream(fx: Fakes) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    fx.table.put(make_decision("account", "a1", "strip", reason="suspect"), actor="t")
    with (
        _client(fx) as c,
        c.stream(
            "POST",
            "/v1/chat/completions",
            json=_chat(stream=True, standin="reasoning"),
            headers={"authorization": f"Bearer {key}"},
        ) as r,
    ):
        body = b"".join(r.iter_bytes())
    assert b"reasoning_content" not in body and b"[DONE]" in body


def test_rate_limit_429_with_headers(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path, account_rpm=3)
    key = fx.keys.create("a1", actor="t").raw_key
    with _client(fx) as c:
        codes = []
        for _ in range(5):
            r = c.post(
                "/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {key}"}
            )
            codes.append(r.status_code)
    assert codes == [200, 200, 200, 429, 429]
    assert r.headers["x-ratelimit-limit-requests"] == "3"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limit_exceeded"


def test_throttle_decision_tightens_limits(fx: Fakes) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    fx.table.put(
        make_decision("account", "a1", "throttle", params={"rpm": 2}, reason="x"), actor="t"
    )
    with _client(fx) as c:
        codes = [
            c.post(
                "/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {key}"}
            ).status_code
            for _ in range(4)
        ]
    assert codes == [200, 200, 429, 429]


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("garbage", 502, "upstream_bad_response"),
        ("html", 502, "upstream_bad_response"),
        ("error", 500, "standin_error"),
    ],
)
def test_upstream_failures(fx: Fakes, mode: str, status: int, code: str) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post(
            "/v1/chat/completions",
            json=_chat(standin=mode),
            headers={"authorization": f"Bearer {key}"},
        )
    assert r.status_code == status and r.json()["error"]["code"] == code
    ev = _events(fx.spool_dir)[0]
    assert ev.status == status and ev.extra["error_code"] == code


def test_upstream_down_is_502(tmp_path: Path) -> None:
    import httpx

    fx = fake_gateway(tmp_path)
    fx.gateway.upstream = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=1.0)
    key = fx.keys.create("a1", actor="t").raw_key
    with _client(fx) as c:
        r = c.post("/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_unavailable"
    assert _events(fx.spool_dir)[0].status == 502


def test_completions_and_embeddings(fx: Fakes) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    h = {"authorization": f"Bearer {key}"}
    with _client(fx) as c:
        r = c.post(
            "/v1/completions",
            json={"model": "standin-1", "prompt": "abc", "max_tokens": 2},
            headers=h,
        )
        assert r.json()["choices"][0]["text"] == "".join(answer_tokens("abc", 2))
        r = c.post(
            "/v1/embeddings", json={"model": "standin-embed", "input": ["a", "b"]}, headers=h
        )
        assert len(r.json()["data"]) == 2
    ops = sorted(e.extra["operation"] for e in _events(fx.spool_dir))
    assert ops == ["embeddings", "text_completion"]


def test_metrics_expose_genai_labels(fx: Fakes) -> None:
    key = fx.keys.create("a1", actor="t").raw_key
    with _client(fx) as c:
        c.post("/v1/chat/completions", json=_chat(), headers={"authorization": f"Bearer {key}"})
        text = c.get("/metrics").text
    assert 'gen_ai_operation_name="chat"' in text
    assert "gen_ai_server_request_duration_seconds_bucket" in text
    assert "distillguard_gateway_spool_pending_events" in text


def test_no_secret_in_events_or_logs(fx: Fakes, caplog: pytest.LogCaptureFixture) -> None:
    issued = fx.keys.create("a1", actor="t")
    with _client(fx) as c:
        c.post(
            "/v1/chat/completions",
            json=_chat(),
            headers={"authorization": f"Bearer {issued.raw_key}"},
        )
        c.post(
            "/v1/chat/completions",
            json=_chat(),
            headers={"authorization": f"Bearer {issued.raw_key}x"},
        )
    spooled = b"".join(f.read_bytes() for f in fx.spool_dir.rglob("seg-*"))
    secret_part = issued.raw_key.split("_", 2)[2]
    assert secret_part.encode() not in spooled
    assert secret_part not in caplog.text
    assert msgspec.json.decode(spooled.splitlines()[0])["api_key_id"] == issued.record.key_id
