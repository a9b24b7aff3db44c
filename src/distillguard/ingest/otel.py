"""OpenTelemetry GenAI spans exported as OTLP JSON.

Input is ``{"resourceSpans": [{"resource": {...}, "scopeSpans": [{"spans": [...]}]}]}``,
either one such document per line (the collector's file exporter) or one pretty-printed
document per file (read whole: keep those files moderate). Spans without any ``gen_ai.*``
attribute (HTTP, database, ...) are not GenAI calls: they are skipped and not counted.

Attribute names follow the OpenTelemetry semantic conventions for generative AI
(``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.input.messages``, ...),
with the older ``gen_ai.prompt`` / ``gen_ai.completion`` names and ``gen_ai.content.*`` span
events still accepted. The account comes from the ``account_id`` option, else from the first
of ``account_attributes`` (default ``enduser.id``, ``user.id``) found on the span or its
resource. Record numbers in errors are line numbers (JSONL) with the span's position.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from distillguard.errors import InputError, RecordError
from distillguard.events import Event, event_from_obj
from distillguard.ingest.base import ReadOptions, Rejected, preview
from distillguard.ingest.compression import CorruptStream, iter_line_batches, open_binary

DEFAULT_ACCOUNT_ATTRIBUTES: tuple[str, ...] = ("enduser.id", "user.id")
#: Whole-document OTLP files larger than this are refused (export them as JSONL instead).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content)$")
#: Attributes mapped onto canonical fields; every other gen_ai.* attribute goes to ``extra``.
_MAPPED = frozenset(
    {
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.operation.name",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.top_p",
        "gen_ai.request.seed",
        "gen_ai.request.choice.count",
        "gen_ai.response.finish_reasons",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)


def any_value(value: Any) -> Any:
    """Decode an OTLP JSON ``AnyValue`` (``{"stringValue": ...}``, ``{"intValue": "3"}``, ...)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """Decode an OTLP attribute list ``[{"key": k, "value": AnyValue}]`` into a dict."""
    out: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"))
    return out


def _json_attr(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return _dec.decode(value)
        except msgspec.DecodeError:
            return value
    return value


def _parts_text(msg: dict[str, Any]) -> str | None:
    """Text of a semconv message ``{"role", "parts": [{"type": "text", "content"}]}``."""
    if isinstance(msg.get("content"), str):
        return str(msg["content"])
    parts = msg.get("parts")
    if isinstance(parts, list):
        texts = [p.get("content") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(t for t in texts if isinstance(t, str))
    return None


def _messages(value: Any) -> list[dict[str, Any]] | None:
    value = _json_attr(value)
    if not isinstance(value, list):
        return None
    out = [
        {"role": str(m.get("role", "user")), "content": _parts_text(m)}
        for m in value
        if isinstance(m, dict)
    ]
    return out or None


def _text_from(span: dict[str, Any], attrs: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(messages, prompt, completion) from attributes, span events or indexed attributes."""
    messages = _messages(attrs.get("gen_ai.input.messages"))
    system = attrs.get("gen_ai.system_instructions")
    if messages is not None and system is not None:
        sys_msgs = _messages(system) if not isinstance(system, str) or system[:1] == "[" else None
        text = "\n".join(m["content"] or "" for m in sys_msgs) if sys_msgs else str(system)
        messages.insert(0, {"role": "system", "content": text})
    out_msgs = _messages(attrs.get("gen_ai.output.messages"))
    completion = out_msgs[0]["content"] if out_msgs else attrs.get("gen_ai.completion")
    prompt = attrs.get("gen_ai.prompt")
    for ev in span.get("events") or ():
        if not isinstance(ev, dict):
            continue
        ev_attrs = attributes(ev.get("attributes"))
        if ev.get("name") == "gen_ai.content.prompt" and prompt is None:
            prompt = ev_attrs.get("gen_ai.prompt")
        elif ev.get("name") == "gen_ai.content.completion" and completion is None:
            completion = ev_attrs.get("gen_ai.completion")
    if messages is None and isinstance(prompt, str):
        messages = _messages(prompt)
        prompt = None if messages else prompt
    if messages is None:
        indexed: dict[int, dict[str, Any]] = {}
        for key, value in attrs.items():
            m = _INDEXED.match(key)
            if m and m.group(1) == "prompt":
                indexed.setdefault(int(m.group(2)), {})[m.group(3)] = value
            elif m and m.group(3) == "content" and completion is None and m.group(2) == "0":
                completion = value
        if indexed:
            messages = [
                {"role": str(v.get("role", "user")), "content": v.get("content")}
                for _, v in sorted(indexed.items())
            ]
    if isinstance(completion, str):
        parsed = _messages(completion)
        completion = parsed[0]["content"] if parsed else completion
    return messages, prompt, completion


def _nanos(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        return None


def span_to_canonical(
    span: dict[str, Any],
    resource: dict[str, Any],
    *,
    account_id: str | None,
    account_attributes: tuple[str, ...],
) -> dict[str, Any]:
    """Build a canonical event object from one GenAI span and its resource attributes.

    Raises:
        RecordError: no start time or no account.
    """
    attrs = attributes(span.get("attributes"))
    start = _nanos(span.get("startTimeUnixNano"))
    if start is None:
        raise RecordError("span has no startTimeUnixNano", field="startTimeUnixNano")
    end = _nanos(span.get("endTimeUnixNano"))
    account = account_id
    if not account:
        for name in account_attributes:
            found = attrs.get(name, resource.get(name))
            if found not in (None, ""):
                account = str(found)
                break
    if not account:
        raise RecordError(
            f"no account: the span has none of the attributes {', '.join(account_attributes)}; "
            "pass --account-id or --account-attribute",
            field="account_id",
        )
    messages, prompt, completion = _text_from(span, attrs)
    reasons = attrs.get("gen_ai.response.finish_reasons")
    finish = reasons[0] if isinstance(reasons, list) and reasons else reasons
    usage = {
        "input_tokens": attrs.get(
            "gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")
        ),
        "output_tokens": attrs.get(
            "gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")
        ),
    }
    params = {
        "max_tokens": attrs.get("gen_ai.request.max_tokens"),
        "temperature": attrs.get("gen_ai.request.temperature"),
        "top_p": attrs.get("gen_ai.request.top_p"),
        "seed": attrs.get("gen_ai.request.seed"),
        "n": attrs.get("gen_ai.request.choice.count"),
    }
    extra = {
        k: v
        for k, v in attrs.items()
        if k.startswith("gen_ai.") and k not in _MAPPED and not _INDEXED.match(k)
    }
    for key in ("service.name",):
        if key in resource:
            extra[key] = resource[key]
    event: dict[str, Any] = {
        "ts": start / 1e9,
        "account_id": account,
        "request_id": f"otel:{span.get('traceId', '')}:{span.get('spanId', '')}",
        "endpoint": attrs.get("gen_ai.operation.name"),
        "model": attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model"),
        "messages": messages,
        "prompt": prompt if isinstance(prompt, str) else None,
        "client": {
            k: v
            for k, v in {
                "ip": attrs.get("client.address"),
                "user_agent": attrs.get("user_agent.original"),
            }.items()
            if v is not None
        }
        or None,
        "params": {k: v for k, v in params.items() if v is not None} or None,
        "usage": {k: v for k, v in usage.items() if v is not None} or None,
        "response": {
            k: v
            for k, v in {
                "text": completion if isinstance(completion, str) else None,
                "finish_reason": finish,
            }.items()
            if v is not None
        }
        or None,
        "status": attrs.get("http.response.status_code"),
        "latency_ms": (end - start) / 1e6 if end is not None and end >= start else None,
        "extra": extra,
    }
    return {k: v for k, v in event.items() if v is not None}


def _is_genai(span: dict[str, Any]) -> bool:
    return any(
        isinstance(a, dict) and str(a.get("key", "")).startswith("gen_ai.")
        for a in span.get("attributes") or ()
    )


class OtelReader:
    """OTLP JSON trace exports holding GenAI spans (see the module docstring)."""

    name: ClassVar[str] = "otel"
    extensions: ClassVar[tuple[str, ...]] = (".json", ".jsonl", ".otlp")

    def sniff(self, head: bytes) -> bool:
        """The document has ``resourceSpans``."""
        return b'"resourceSpans"' in head

    def read(self, path: Path, options: ReadOptions) -> Iterator[Event | Rejected]:
        """Yield one event (or rejection) per GenAI span."""
        source = options.source_name or str(path)
        for line_no, doc in self._documents(path, source):
            if isinstance(doc, Rejected):
                yield doc
                continue
            yield from self._spans(doc, line_no, source, options)

    def _documents(self, path: Path, source: str) -> Iterator[tuple[int, Any]]:
        if self._is_whole_document(path):
            with open_binary(path) as fh:
                data = fh.read(MAX_DOCUMENT_BYTES + 1)
            if len(data) > MAX_DOCUMENT_BYTES:
                raise InputError(
                    f"{path}: one OTLP JSON document over {MAX_DOCUMENT_BYTES:,} bytes; "
                    "export one document per line (JSONL) instead"
                )
            try:
                yield 1, _dec.decode(data)
            except msgspec.DecodeError as exc:
                yield (
                    1,
                    Rejected(
                        f"not valid JSON ({exc})", source=source, line=1, raw=preview(data[:4096])
                    ),
                )
            return
        try:
            for first, lines in iter_line_batches(path, max_lines=1_000):
                for offset, line in enumerate(lines):
                    if not line or line.isspace():
                        continue
                    try:
                        yield first + offset, _dec.decode(line)
                    except msgspec.DecodeError as exc:
                        yield (
                            first + offset,
                            Rejected(
                                f"not valid JSON ({exc})",
                                source=source,
                                line=first + offset,
                                raw=preview(line),
                            ),
                        )
        except CorruptStream as exc:
            yield (
                exc.line,
                Rejected(
                    exc.reason + "; the rest of the file cannot be read",
                    source=source,
                    line=exc.line,
                    field="<stream>",
                    raw=preview(exc.partial),
                ),
            )

    def _is_whole_document(self, path: Path) -> bool:
        """True when the first line alone is not a complete JSON value (pretty-printed file)."""
        try:
            for _, lines in iter_line_batches(path, max_lines=1):
                for line in lines:
                    if line.strip():
                        try:
                            _dec.decode(line)
                        except msgspec.DecodeError:
                            return True
                        return False
        except CorruptStream:
            return False
        return False

    def _spans(
        self, doc: Any, line_no: int, source: str, options: ReadOptions
    ) -> Iterator[Event | Rejected]:
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
            yield Rejected(
                "not an OTLP JSON trace document (no resourceSpans list)",
                source=source,
                line=line_no,
                raw=preview(_enc.encode(doc)),
            )
            return
        account = options.option("account_id")
        names = tuple(options.option("account_attributes", DEFAULT_ACCOUNT_ATTRIBUTES))
        for r_i, rs in enumerate(doc["resourceSpans"]):
            if not isinstance(rs, dict):
                continue
            resource = attributes((rs.get("resource") or {}).get("attributes"))
            scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
            for s_i, scope in enumerate(scopes):
                for p_i, span in enumerate((scope or {}).get("spans") or []):
                    if not isinstance(span, dict) or not _is_genai(span):
                        continue
                    where = f"resourceSpans[{r_i}].scopeSpans[{s_i}].spans[{p_i}]"
                    try:
                        obj = span_to_canonical(
                            span, resource, account_id=account, account_attributes=names
                        )
                        yield event_from_obj(obj, max_text_chars=options.max_text_chars)
                    except RecordError as exc:
                        yield Rejected(
                            f"{where}: {exc.reason}",
                            source=source,
                            line=line_no,
                            field=exc.field,
                            raw=preview(_enc.encode(span)),
                        )
