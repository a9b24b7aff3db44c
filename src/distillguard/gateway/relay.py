"""Shaping upstream answers: capture text and usage, strip reasoning and logprobs, and run
the response transforms — on a whole JSON answer or on a server-sent-event stream.

When nothing needs rewriting, streamed bytes go to the client exactly as the upstream sent
them and are parsed only to capture the event (the fast path).
"""

from __future__ import annotations

from typing import Any

import msgspec

from distillguard.gateway.exchange import Exchange
from distillguard.gateway.transforms import TextStream, TransformContext, get_transform
from distillguard.policy.enforce import Enforcement

_REASONING = ("reasoning_content", "reasoning")
_dec = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


class Shaper:
    """Applies one request's enforcement to its answer and records it in the exchange."""

    def __init__(self, ex: Exchange, enf: Enforcement) -> None:
        self.ex = ex
        self.strip = enf.strip
        self.transforms = enf.transforms
        self.rewrite = bool(self.strip or self.transforms)
        self._streams: dict[int, list[TextStream]] = {}
        missing = [name for name, _ in self.transforms if not get_transform(name)[1]]
        if missing:
            ex.decision["transforms_missing"] = missing

    def _open(self, choice: int) -> list[TextStream]:
        streams = self._streams.get(choice)
        if streams is None:
            streams = []
            for name, params in self.transforms:
                t, _ = get_transform(name)
                ctx = TransformContext(
                    self.ex.request_id,
                    self.ex.account_id,
                    self.ex.org_id,
                    self.ex.model or "",
                    self.ex.endpoint,
                    choice,
                    params,
                )
                streams.append(t.open(ctx))
            self._streams[choice] = streams
        return streams

    def prepare(self, body: dict[str, Any]) -> None:
        """Let transforms change the upstream request."""
        for name, params in self.transforms:
            t, _ = get_transform(name)
            t.prepare(
                body,
                TransformContext(
                    self.ex.request_id,
                    self.ex.account_id,
                    self.ex.org_id,
                    self.ex.model or "",
                    self.ex.endpoint,
                    0,
                    params,
                ),
            )

    def _text(self, choice: int, text: str, final: bool) -> str:
        if self.transforms:
            for s in self._open(choice):
                text = s.feed(text)
                if final:
                    text += s.close()
        return text

    def usage(self, obj: dict[str, Any]) -> None:
        """Record ``usage`` if the object carries it."""
        u = obj.get("usage")
        if isinstance(u, dict):
            if isinstance(u.get("prompt_tokens"), int):
                self.ex.input_tokens = u["prompt_tokens"]
            if isinstance(u.get("completion_tokens"), int):
                self.ex.output_tokens = u["completion_tokens"]
            det = u.get("completion_tokens_details")
            if isinstance(det, dict) and isinstance(det.get("reasoning_tokens"), int):
                self.ex.reasoning_tokens = det["reasoning_tokens"]

    def _choice(self, choice: dict[str, Any], part: str) -> None:
        idx = choice.get("index", 0)
        idx = idx if isinstance(idx, int) else 0
        fr = choice.get("finish_reason")
        final = isinstance(fr, str)
        if final and idx == 0:
            self.ex.finish_reason = fr
        if self.strip:
            choice.pop("logprobs", None)
        holder: dict[str, Any] | None = choice.get(part) if part != "text" else choice
        key = "content" if part != "text" else "text"
        if not isinstance(holder, dict):
            return
        if self.strip:
            for r in _REASONING:
                holder.pop(r, None)
        text = holder.get(key)
        if isinstance(text, str):
            self.ex.add_text(idx, text)
            if self.transforms:
                holder[key] = self._text(idx, text, final)
        elif final and self.transforms and part != "text":
            tail = self._text(idx, "", True)
            if tail:
                holder[key] = tail

    def whole(self, body: dict[str, Any]) -> None:
        """Shape a non-streamed answer in place."""
        self.usage(body)
        part = (
            "message"
            if body.get("object") == "chat.completion" or self.ex.operation == "chat"
            else "text"
        )
        for choice in body.get("choices") or ():
            if isinstance(choice, dict):
                self._choice(choice, part)

    def chunk(self, obj: dict[str, Any]) -> None:
        """Shape one streamed chunk in place."""
        self.usage(obj)
        part = "delta" if self.ex.operation == "chat" else "text"
        self.ex.chunks += 1
        for choice in obj.get("choices") or ():
            if isinstance(choice, dict):
                self._choice(choice, part)


class SSEReader:
    """Splits a byte stream into server-sent events and shapes their ``data:`` JSON."""

    def __init__(self, shaper: Shaper) -> None:
        self.shaper = shaper
        self.buf = b""
        self.bad = 0
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """Take upstream bytes; return the bytes to send (the same bytes when not rewriting)."""
        self.buf += data
        out: list[bytes] = []
        while True:
            cut = self.buf.find(b"\n\n")
            if cut < 0:
                break
            event, self.buf = self.buf[: cut + 2], self.buf[cut + 2 :]
            out.append(self._event(event))
        if not self.shaper.rewrite:
            return data
        return b"".join(out)

    def _event(self, event: bytes) -> bytes:
        payload = b""
        for line in event.split(b"\n"):
            line = line.rstrip(b"\r")
            if line.startswith(b"data:"):
                payload += line[5:].lstrip(b" ")
        if not payload:
            return event
        if payload == b"[DONE]":
            self.done = True
            return event
        try:
            obj = _dec.decode(payload)
        except msgspec.DecodeError:
            self.bad += 1
            return event
        if not isinstance(obj, dict):
            self.bad += 1
            return event
        self.shaper.chunk(obj)
        if not self.shaper.rewrite:
            return event
        return b"data: " + _enc.encode(obj) + b"\n\n"

    def tail(self) -> bytes:
        """Bytes left without a terminating blank line (sent as they are)."""
        rest, self.buf = self.buf, b""
        return rest if self.shaper.rewrite else b""
