"""OpenAI Batch API files: the requests file joined to the output file on ``custom_id``.

Requests lines are ``{custom_id, method, url, body}``; output lines are
``{id, custom_id, response: {status_code, request_id, body}, error}``. The output file is
spilled into a temporary on-disk DuckDB table keyed by ``custom_id``, then the requests file
is streamed in batches and each batch is joined to it, so neither file is held in memory.

Batch files carry no account: the ``account_id`` option (CLI ``--account-id``) names the
account that submitted the batch; without it, ``body.user`` or ``body.metadata.user_id`` /
``account_id`` is used when present. The timestamp is the response body's ``created``
(``created_at`` for the Responses API). An output file given alone (no requests file) is read
too, without prompt text.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import msgspec
import pyarrow as pa

from distillguard.errors import InputError, RecordError
from distillguard.events import Event, event_from_obj
from distillguard.ingest.base import ReadOptions, Rejected, preview
from distillguard.ingest.compression import CorruptStream, iter_line_batches, read_head

_dec = msgspec.json.Decoder()
_LOOKUP_BATCH = 10_000


class _Keyed(msgspec.Struct):
    custom_id: str


_key_dec = msgspec.json.Decoder(_Keyed)


def _kind(head: bytes) -> str:
    """``"requests"``, ``"output"`` or ``""`` from the first line of a file."""
    first = head.lstrip().split(b"\n", 1)[0]
    if b'"custom_id"' not in first:
        return ""
    if b'"response"' in first or b'"error"' in first:
        return "output"
    if b'"body"' in first or b'"method"' in first:
        return "requests"
    return ""


def _text_parts(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str)) or None
    return None


def _answer(rbody: dict[str, Any]) -> tuple[str | None, str | None]:
    """(text, finish_reason) from a chat, completions or responses body."""
    choices = rbody.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        msg = first.get("message")
        text = _text_parts(msg.get("content")) if isinstance(msg, dict) else first.get("text")
        return (text if isinstance(text, str) else None), first.get("finish_reason")
    output = rbody.get("output")
    if isinstance(output, list):
        texts = [
            _text_parts(item.get("content"))
            for item in output
            if isinstance(item, dict) and item.get("type") == "message"
        ]
        joined = "\n".join(t for t in texts if t)
        return (joined or None), rbody.get("status")
    return None, None


def _usage(rbody: dict[str, Any]) -> dict[str, Any] | None:
    u = rbody.get("usage")
    if not isinstance(u, dict):
        return None
    details = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
    out = {
        "input_tokens": u.get("prompt_tokens", u.get("input_tokens")),
        "output_tokens": u.get("completion_tokens", u.get("output_tokens")),
        "reasoning_tokens": details.get("reasoning_tokens") if isinstance(details, dict) else None,
    }
    return {k: v for k, v in out.items() if v is not None} or None


def _params(body: dict[str, Any]) -> dict[str, Any] | None:
    p: dict[str, Any] = {}
    for key in ("temperature", "top_p", "n", "top_logprobs", "stream", "seed", "tools"):
        if body.get(key) is not None:
            p[key] = body[key]
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = body.get("max_output_tokens")
    if max_tokens is not None:
        p["max_tokens"] = max_tokens
    logprobs = body.get("logprobs")
    if isinstance(logprobs, bool):
        p["logprobs"] = logprobs
    elif isinstance(logprobs, int):  # legacy completions: logprobs=N means top N
        p["logprobs"], p["top_logprobs"] = True, logprobs
    reasoning = body.get("reasoning")
    effort = body.get("reasoning_effort")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    if effort is not None:
        p["reasoning_effort"] = effort
    return p or None


def batch_to_canonical(
    request: dict[str, Any] | None, output: dict[str, Any], account_id: str | None
) -> dict[str, Any]:
    """Build a canonical event object from one request line and its output line.

    Raises:
        RecordError: the exchange failed, has no timestamp, or no account can be found.
    """
    req = request or {}
    body = req.get("body") if isinstance(req.get("body"), dict) else {}
    assert isinstance(body, dict)
    response = output.get("response") if isinstance(output.get("response"), dict) else {}
    assert isinstance(response, dict)
    rbody = response.get("body") if isinstance(response.get("body"), dict) else {}
    assert isinstance(rbody, dict)
    error = output.get("error")
    if error and not rbody:
        detail = (
            error if not isinstance(error, dict) else f"{error.get('code')}: {error.get('message')}"
        )
        raise RecordError(
            f"the batch request failed ({detail}); no response to ingest", field="error"
        )
    created = rbody.get("created", rbody.get("created_at"))
    if created is None:
        raise RecordError("response body has no 'created' timestamp", field="response.body.created")
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    end_user = body.get("user") or meta.get("user_id") or meta.get("account_id")
    account = account_id or end_user
    if not account:
        raise RecordError(
            "no account id: the request has no body.user or metadata.user_id; "
            "pass --account-id (batch files do not name the submitting account)",
            field="account_id",
        )
    custom_id = output.get("custom_id") or req.get("custom_id")
    text, finish = _answer(rbody)
    event: dict[str, Any] = {
        "ts": created,
        "account_id": str(account),
        "request_id": output.get("id") or response.get("request_id") or f"batch:{custom_id}",
        "endpoint": req.get("url"),
        "model": rbody.get("model") or body.get("model"),
        "status": response.get("status_code"),
        "params": _params(body),
        "usage": _usage(rbody),
        "response": {"text": text, "finish_reason": finish} if text or finish else None,
        "extra": {"batch_custom_id": custom_id},
    }
    if account_id and end_user:
        event["extra"]["end_user"] = end_user
    if isinstance(body.get("messages"), list):
        event["messages"] = body["messages"]
    elif isinstance(body.get("prompt"), str):
        event["prompt"] = body["prompt"]
    elif isinstance(body.get("input"), str):
        event["prompt"] = body["input"]
    elif isinstance(body.get("input"), list):
        event["messages"] = [m for m in body["input"] if isinstance(m, dict) and "role" in m]
    return {k: v for k, v in event.items() if v is not None}


class _OutputIndex:
    """Output lines spilled to a temporary on-disk DuckDB table, looked up by custom_id."""

    def __init__(self, path: Path, source: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dg-batch-")
        self.con = duckdb.connect(str(Path(self._dir.name) / "join.duckdb"))
        self.con.execute("SET preserve_insertion_order = false").fetchall()
        self.con.execute(
            "CREATE TABLE outputs (custom_id VARCHAR, line BIGINT, raw BLOB)"
        ).fetchall()
        self.con.execute("CREATE TABLE matched (custom_id VARCHAR)").fetchall()
        self.bad: list[Rejected] = []
        try:
            for first, lines in iter_line_batches(path, max_lines=_LOOKUP_BATCH):
                ids: list[str] = []
                nums: list[int] = []
                raws: list[bytes] = []
                for offset, line in enumerate(lines):
                    if not line or line.isspace():
                        continue
                    try:
                        ids.append(_key_dec.decode(line).custom_id)
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        self.bad.append(
                            Rejected(
                                f"output line is not a batch output object ({exc})",
                                source=source,
                                line=first + offset,
                                field="custom_id",
                                raw=preview(line),
                            )
                        )
                        continue
                    nums.append(first + offset)
                    raws.append(line)
                self._insert("outputs", {"custom_id": ids, "line": nums, "raw": raws})
        except CorruptStream as exc:
            self.bad.append(
                Rejected(
                    exc.reason + "; the rest of the output file cannot be read",
                    source=source,
                    line=exc.line,
                    field="<stream>",
                    raw=preview(exc.partial),
                )
            )

    def _insert(self, table: str, columns: dict[str, list[Any]]) -> None:
        batch = pa.table(
            {k: pa.array(v, type=pa.binary() if k == "raw" else None) for k, v in columns.items()}
        )
        self.con.register("_b", batch)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM _b").fetchall()  # noqa: S608
        finally:
            self.con.unregister("_b")

    def lookup(self, ids: list[str]) -> dict[str, bytes]:
        """Output lines of ``ids`` (the first line per custom_id), remembering them as matched."""
        self._insert("matched", {"custom_id": ids})
        self.con.register("_q", pa.table({"custom_id": pa.array(ids, type=pa.string())}))
        try:
            rows = self.con.execute(
                "SELECT o.custom_id, arg_min(o.raw, o.line) FROM outputs o "
                "SEMI JOIN _q ON o.custom_id = _q.custom_id GROUP BY o.custom_id"
            ).fetchall()
        finally:
            self.con.unregister("_q")
        return {str(cid): bytes(raw) for cid, raw in rows}

    def unmatched(self) -> Iterator[tuple[int, bytes]]:
        """Output lines whose custom_id no request had, in file order."""
        cur = self.con.execute(
            "SELECT line, raw FROM outputs ANTI JOIN (SELECT DISTINCT custom_id FROM matched) m "
            "ON outputs.custom_id = m.custom_id ORDER BY line"
        )
        while rows := cur.fetchmany(_LOOKUP_BATCH):
            for line, raw in rows:
                yield int(line), bytes(raw)

    def close(self) -> None:
        self.con.close()
        self._dir.cleanup()


class OpenAIBatchReader:
    """OpenAI Batch API request/output files (see the module docstring)."""

    name: ClassVar[str] = "openai-batch"
    extensions: ClassVar[tuple[str, ...]] = (".jsonl",)

    def sniff(self, head: bytes) -> bool:
        """The first line has ``custom_id`` and request or output keys."""
        return _kind(head) != ""

    def read(self, path: Path, options: ReadOptions) -> Iterator[Event | Rejected]:
        """Yield one event (or rejection) per request line, then per unmatched output line."""
        source = options.source_name or str(path)
        account = options.option("account_id")
        output = options.option("batch_output")
        kind = _kind(read_head(path))
        if kind == "output" or (kind == "" and output is None):
            yield from self._outputs_alone(path, source, account, options.max_text_chars)
            return
        if output is None:
            raise InputError(
                f"{path}: an OpenAI batch requests file needs its output file "
                "(--batch-output FILE): the timestamps and answers are there"
            )
        out_path = Path(output)
        if not out_path.is_file():
            raise InputError(f"{out_path}: batch output file not found")
        index = _OutputIndex(out_path, str(out_path))
        try:
            yield from index.bad
            yield from self._joined(path, source, index, account, options)
            for line, raw in index.unmatched():
                yield Rejected(
                    "output line has no matching request (custom_id not in the requests file)",
                    source=str(out_path),
                    line=line,
                    field="custom_id",
                    raw=preview(raw),
                )
        finally:
            index.close()

    def _joined(
        self,
        path: Path,
        source: str,
        index: _OutputIndex,
        account: str | None,
        options: ReadOptions,
    ) -> Iterator[Event | Rejected]:
        try:
            for first, lines in iter_line_batches(path, max_lines=_LOOKUP_BATCH):
                parsed: list[tuple[int, bytes, dict[str, Any] | RecordError]] = []
                for offset, line in enumerate(lines):
                    if line and not line.isspace():
                        parsed.append((first + offset, line, _request(line)))
                ids = [p["custom_id"] for _, _, p in parsed if isinstance(p, dict)]
                found = index.lookup(ids)
                for line_no, line, req in parsed:
                    if isinstance(req, RecordError):
                        yield Rejected(
                            req.reason,
                            source=source,
                            line=line_no,
                            field=req.field,
                            raw=preview(line),
                        )
                        continue
                    raw_out = found.get(req["custom_id"])
                    try:
                        if raw_out is None:
                            raise RecordError(
                                f"no output line for custom_id {req['custom_id']!r}",
                                field="custom_id",
                            )
                        obj = batch_to_canonical(req, _dec.decode(raw_out), account)
                        yield event_from_obj(obj, max_text_chars=options.max_text_chars)
                    except RecordError as exc:
                        yield Rejected(
                            exc.reason,
                            source=source,
                            line=line_no,
                            field=exc.field,
                            raw=preview(line),
                        )
        except CorruptStream as exc:
            yield Rejected(
                exc.reason + "; the rest of the file cannot be read",
                source=source,
                line=exc.line,
                field="<stream>",
                raw=preview(exc.partial),
            )

    def _outputs_alone(
        self, path: Path, source: str, account: str | None, max_chars: int
    ) -> Iterator[Event | Rejected]:
        try:
            for first, lines in iter_line_batches(path, max_lines=_LOOKUP_BATCH):
                for offset, line in enumerate(lines):
                    if not line or line.isspace():
                        continue
                    try:
                        obj = _dec.decode(line)
                        if not isinstance(obj, dict) or "custom_id" not in obj:
                            raise RecordError("not a batch output object (no custom_id)")
                        canonical = batch_to_canonical(None, obj, account)
                        yield event_from_obj(canonical, max_text_chars=max_chars)
                    except msgspec.DecodeError as exc:
                        yield Rejected(
                            f"not valid JSON ({exc})",
                            source=source,
                            line=first + offset,
                            raw=preview(line),
                        )
                    except RecordError as exc:
                        yield Rejected(
                            exc.reason,
                            source=source,
                            line=first + offset,
                            field=exc.field,
                            raw=preview(line),
                        )
        except CorruptStream as exc:
            yield Rejected(
                exc.reason + "; the rest of the file cannot be read",
                source=source,
                line=exc.line,
                field="<stream>",
                raw=preview(exc.partial),
            )


def _request(line: bytes) -> dict[str, Any] | RecordError:
    try:
        obj = _dec.decode(line)
    except msgspec.DecodeError as exc:
        return RecordError(f"not valid JSON ({exc})")
    if not isinstance(obj, dict):
        return RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if not isinstance(obj.get("custom_id"), str):
        return RecordError("request line has no custom_id string", field="custom_id")
    return obj
