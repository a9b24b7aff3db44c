"""The response-transform seam: how watermarks and canaries reach the answer text.

A policy action (``watermark``, ``canary``) names a transform; the gateway looks it up in
:data:`TRANSFORMS` and, for every choice of the response, opens a :class:`TextStream` that
receives the text as it arrives (one call per streamed delta, or once for a whole answer)
and returns what to send instead. A transform may hold text back (return ``""``) and release
it later or in :meth:`TextStream.close`. :meth:`ResponseTransform.prepare` may also change the
request before it goes upstream (a logit-level watermark for a self-hosted model passes its
key this way).

To add one: implement :class:`ResponseTransform` (a ``name`` ClassVar, ``prepare`` and
``open``) and call :func:`register_transform` at start-up (the watermark part does this).
Until something is registered under a name, actions naming it use :class:`NoopTransform` and
the event's decision records ``transforms_missing``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class TransformContext:
    """What a transform knows about the request it is transforming.

    Attributes:
        request_id: the gateway's request id.
        account_id: the caller's account.
        org_id: the caller's org ("" if none).
        model: the model requested.
        endpoint: e.g. ``/v1/chat/completions``.
        choice: index of the choice being transformed.
        params: the decision's parameters for this transform (e.g. ``strength``).
    """

    request_id: str
    account_id: str
    org_id: str
    model: str
    endpoint: str
    choice: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TextStream(Protocol):
    """Transforms one choice's text as it arrives."""

    def feed(self, text: str) -> str:
        """Take the next piece of text; return the text to send now (may be "")."""
        ...

    def close(self) -> str:
        """The answer is complete; return any text still held back."""
        ...


@runtime_checkable
class ResponseTransform(Protocol):
    """A named transform of requests and answer text (see the module docstring)."""

    name: ClassVar[str]

    def prepare(self, body: dict[str, Any], ctx: TransformContext) -> None:
        """Change the upstream request body in place (most transforms do nothing)."""
        ...

    def open(self, ctx: TransformContext) -> TextStream:
        """Start transforming one choice of one response."""
        ...


class _PassThrough:
    def feed(self, text: str) -> str:
        return text

    def close(self) -> str:
        return ""


class NoopTransform:
    """The reference transform: changes nothing. Default for every unregistered name."""

    name: ClassVar[str] = "noop"

    def prepare(self, body: dict[str, Any], ctx: TransformContext) -> None:
        return None

    def open(self, ctx: TransformContext) -> TextStream:
        return _PassThrough()


#: name -> transform. Register with :func:`register_transform`; never discovered implicitly.
TRANSFORMS: dict[str, ResponseTransform] = {"noop": NoopTransform()}


def register_transform(transform: ResponseTransform, name: str | None = None) -> None:
    """Make ``transform`` available under ``name`` (default ``transform.name``)."""
    TRANSFORMS[name or transform.name] = transform


def get_transform(name: str) -> tuple[ResponseTransform, bool]:
    """The transform registered under ``name`` and True, or the no-op and False."""
    t = TRANSFORMS.get(name)
    return (t, True) if t is not None else (TRANSFORMS["noop"], False)
