"""The OpenAI-compatible wire protocol: request validation, error objects, the OpenAPI document.

Requests are validated with msgspec structs that list only the fields the gateway reads;
unknown fields are allowed and forwarded untouched. Errors use OpenAI's error object
(``{"error": {"message", "type", "param", "code"}}``) and always carry ``x-request-id``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.responses import Response

from distillguard.events.model import Message

_enc = msgspec.json.Encoder()

Pos = Annotated[int, msgspec.Meta(ge=1)]


class ChatRequest(msgspec.Struct, kw_only=True):
    """Fields of ``POST /v1/chat/completions`` the gateway reads."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    stream: bool = False
    max_tokens: Pos | None = None
    max_completion_tokens: Pos | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    seed: int | None = None
    reasoning_effort: str | None = None
    tools: list[dict[str, Any]] | None = None
    stream_options: dict[str, Any] | None = None


class CompletionRequest(msgspec.Struct, kw_only=True):
    """Fields of ``POST /v1/completions`` the gateway reads."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    prompt: str | list[Any]
    stream: bool = False
    max_tokens: Pos | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    seed: int | None = None


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    """Fields of ``POST /v1/embeddings`` the gateway reads."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    input: str | list[Any]
    encoding_format: str | None = None
    dimensions: Pos | None = None


REQUEST_TYPES: dict[str, type[msgspec.Struct]] = {
    "chat": ChatRequest,
    "text_completion": CompletionRequest,
    "embeddings": EmbeddingRequest,
}


def field_of(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's message into (param path, reason)."""
    msg = str(exc)
    if " - at `$" in msg:
        msg, _, path = msg.partition(" - at `$")
        return path.rstrip("`").lstrip("."), msg
    return "", msg


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """OpenAI's error object as JSON bytes."""
    return _enc.encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


#: HTTP status -> OpenAI error type
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    499: "client_disconnected",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


def error_response(
    status: int,
    message: str,
    code: str,
    request_id: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An OpenAI-style JSON error response with ``x-request-id``."""
    h = {"x-request-id": request_id}
    if headers:
        h.update(headers)
    body = error_body(message, ERROR_TYPES.get(status, "server_error"), code, param)
    return Response(body, status_code=status, headers=h, media_type="application/json")


def _schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    (out,), components = msgspec.json.schema_components(
        [struct], ref_template="#/components/schemas/{name}"
    )
    return {"out": out, "components": components}


def openapi_document(version: str) -> dict[str, Any]:
    """The gateway's OpenAPI 3.1 document (served at ``/openapi.json``)."""
    components: dict[str, Any] = {}
    refs: dict[str, Any] = {}
    for name, struct in (
        ("chat", ChatRequest),
        ("completion", CompletionRequest),
        ("embedding", EmbeddingRequest),
    ):
        s = _schema(struct)
        components.update(s["components"])
        refs[name] = s["out"]
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
            }
        },
    }
    components["Error"] = error
    err = {
        "description": "OpenAI-style error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    errors = {str(s): err for s in (400, 401, 403, 404, 413, 429, 502, 503, 504)}

    def post(summary: str, ref: dict[str, Any]) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {
                    "200": {"description": "the upstream's answer (JSON or SSE)"},
                    **errors,
                },
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {"title": "distillguard gateway", "version": version},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/chat/completions": post("Chat completion (streaming or not)", refs["chat"]),
            "/v1/completions": post("Text completion (streaming or not)", refs["completion"]),
            "/v1/embeddings": post("Embeddings", refs["embedding"]),
            "/v1/models": {
                "get": {
                    "summary": "Models served",
                    "security": [{"bearer": []}],
                    "responses": {"200": {"description": "model list"}, **errors},
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
        },
    }
