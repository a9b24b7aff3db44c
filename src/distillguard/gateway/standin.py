"""A stand-in upstream: a small OpenAI-compatible server with deterministic answers.

It exists so that tests, the demo and the benchmarks need no model weights. It is NOT a
model: the answer is a fixed function of the prompt (words drawn from a small vocabulary by
a BLAKE2b stream), with configurable latency before the first token and between tokens. Run
it with ``distillguard upstream --port 8081``; point the gateway at a real server (vLLM,
Ollama) by setting ``[gateway] upstream_url`` instead (see docs/gateway.md).

For failure tests a request may carry ``"standin": MODE`` (forwarded untouched by the
gateway): ``garbage`` (a body that is not JSON), ``error`` (HTTP 500 with an OpenAI error),
``html`` (HTTP 502 with HTML), ``hang`` (never answers), ``reasoning`` (adds
``reasoning_content``), ``slow`` (1 s per token). ``GET /standin/stats`` counts requests and
streams started and completed (a stream cut by a client disconnect never completes).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

VOCAB: tuple[str, ...] = (
    "the", "model", "answer", "is", "a", "deterministic", "stand-in", "for", "tests", "and",
    "benchmarks", "it", "returns", "words", "chosen", "from", "prompt", "hash", "with", "no",
    "weights", "so", "every", "run", "gives", "same", "text", "step", "then", "result",
    "because", "therefore",
)  # fmt: skip

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class StandinConfig:
    """Behaviour of the stand-in.

    Attributes:
        latency_ms: wait before the answer (or the first token when streaming).
        token_interval_ms: wait between streamed tokens.
        tokens: answer length in tokens when the request sets no max_tokens.
        models: model names listed and accepted.
    """

    latency_ms: float = 0.0
    token_interval_ms: float = 0.0
    tokens: int = 16
    models: tuple[str, ...] = ("standin-1", "standin-embed")


def answer_tokens(prompt: str, n: int) -> list[str]:
    """The deterministic answer to ``prompt``: ``n`` words, space-separated."""
    out: list[str] = []
    block = hashlib.blake2b(prompt.encode("utf-8", "replace"), digest_size=64).digest()
    i = 0
    while len(out) < n:
        if i >= len(block):
            block = hashlib.blake2b(block, digest_size=64).digest()
            i = 0
        word = VOCAB[block[i] % len(VOCAB)]
        out.append(word if not out else " " + word)
        i += 1
    return out


def _prompt_of(body: dict[str, Any]) -> str:
    msgs = body.get("messages")
    if isinstance(msgs, list):
        parts = [m.get("content") for m in msgs if isinstance(m, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    p = body.get("prompt", body.get("input", ""))
    return p if isinstance(p, str) else str(p)


def create_standin(config: StandinConfig | None = None) -> Starlette:
    """The stand-in's ASGI app."""
    cfg = config or StandinConfig()
    stats = {"requests": 0, "streams_started": 0, "streams_completed": 0}

    async def counted(it: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        stats["streams_started"] += 1
        async for chunk in it:
            yield chunk
        stats["streams_completed"] += 1

    async def stats_route(request: Request) -> Response:
        return Response(_enc.encode(stats), media_type="application/json")

    async def models(request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "standin"} for m in cfg.models
        ]
        return Response(
            _enc.encode({"object": "list", "data": data}), media_type="application/json"
        )

    async def parse(request: Request) -> dict[str, Any] | Response:
        try:
            body = _dec.decode(await request.body())
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            return Response(
                _enc.encode(
                    {
                        "error": {
                            "message": "invalid JSON",
                            "type": "invalid_request_error",
                            "param": None,
                            "code": None,
                        }
                    }
                ),
                status_code=400,
                media_type="application/json",
            )
        return body

    async def special(mode: Any) -> Response | None:
        if mode == "garbage":
            return Response(b"\x00this is not json{", media_type="application/json")
        if mode == "error":
            return Response(
                _enc.encode(
                    {
                        "error": {
                            "message": "stand-in failure",
                            "type": "server_error",
                            "param": None,
                            "code": "standin_error",
                        }
                    }
                ),
                status_code=500,
                media_type="application/json",
            )
        if mode == "html":
            return Response(b"<html>bad gateway</html>", status_code=502, media_type="text/html")
        if mode == "hang":
            await asyncio.sleep(3600)
        return None

    async def generate(request: Request, kind: str) -> Response:
        body = await parse(request)
        if isinstance(body, Response):
            return body
        mode = body.get("standin")
        bad = await special(mode)
        if bad is not None:
            return bad
        stats["requests"] += 1
        prompt = _prompt_of(body)
        mt = body.get("max_tokens") or body.get("max_completion_tokens") or cfg.tokens
        n = max(1, min(int(mt) if isinstance(mt, int) else cfg.tokens, 4096))
        toks = answer_tokens(prompt, n)
        model = body.get("model", "standin-1")
        created = int(time.time())
        rid = "cmpl-standin-" + hashlib.blake2b(prompt.encode(), digest_size=6).hexdigest()
        usage = {
            "prompt_tokens": max(1, len(prompt) // 4),
            "completion_tokens": n,
            "total_tokens": max(1, len(prompt) // 4) + n,
        }
        reasoning = "First I think about it. " if mode == "reasoning" else None
        interval = 1.0 if mode == "slow" else cfg.token_interval_ms / 1000
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if body.get("stream"):
            return StreamingResponse(
                counted(_stream(kind, toks, model, rid, created, usage, reasoning, interval, body)),
                media_type="text/event-stream",
            )
        text = "".join(toks)
        if kind == "chat":
            msg: dict[str, Any] = {"role": "assistant", "content": text}
            if reasoning:
                msg["reasoning_content"] = reasoning
            choice: dict[str, Any] = {"index": 0, "message": msg, "finish_reason": "length"}
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [{"token": t, "logprob": -0.5} for t in toks]}
            obj = {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
        else:
            obj = {
                "id": rid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": usage,
            }
        return Response(_enc.encode(obj), media_type="application/json")

    async def chat(request: Request) -> Response:
        return await generate(request, "chat")

    async def completions(request: Request) -> Response:
        return await generate(request, "text")

    async def embeddings(request: Request) -> Response:
        body = await parse(request)
        if isinstance(body, Response):
            return body
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for i, item in enumerate(items):
            h = hashlib.blake2b(str(item).encode(), digest_size=8).digest()
            data.append(
                {"object": "embedding", "index": i, "embedding": [(b - 128) / 128 for b in h]}
            )
        n = sum(max(1, len(str(x)) // 4) for x in items)
        obj = {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": n, "total_tokens": n},
        }
        return Response(_enc.encode(obj), media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/standin/stats", stats_route, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


async def _stream(
    kind: str,
    toks: list[str],
    model: Any,
    rid: str,
    created: int,
    usage: dict[str, int],
    reasoning: str | None,
    interval: float,
    body: dict[str, Any],
) -> AsyncIterator[bytes]:
    obj_name = "chat.completion.chunk" if kind == "chat" else "text_completion"
    if reasoning and kind == "chat":
        chunk = {
            "id": rid,
            "object": obj_name,
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "reasoning_content": reasoning},
                    "finish_reason": None,
                }
            ],
        }
        yield b"data: " + _enc.encode(chunk) + b"\n\n"
    for i, tok in enumerate(toks):
        if interval and i:
            await asyncio.sleep(interval)
        last = i == len(toks) - 1
        if kind == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "delta": {"content": tok},
                "finish_reason": "length" if last else None,
            }
        else:
            choice = {"index": 0, "text": tok, "finish_reason": "length" if last else None}
        chunk = {
            "id": rid,
            "object": obj_name,
            "created": created,
            "model": model,
            "choices": [choice],
        }
        yield b"data: " + _enc.encode(chunk) + b"\n\n"
    opts = body.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        chunk = {
            "id": rid,
            "object": obj_name,
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield b"data: " + _enc.encode(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"
