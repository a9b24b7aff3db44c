"""Plug-ins for the gateway's response-transform seam (``distillguard.gateway.transforms``).

They satisfy the gateway's ``ResponseTransform`` protocol structurally (a ``name``,
``prepare(body, ctx)`` and ``open(ctx) -> TextStream``), so this module does not import the
gateway. Register them at start-up::

    from distillguard.gateway.transforms import register_transform
    from distillguard.watermark.gateway_plugin import (
        CanaryResponseTransform, WatermarkResponseTransform)

    wm = WatermarkTransform(MasterSecret.load(path), cohorts=64)
    register_transform(WatermarkResponseTransform(wm))          # policy action "watermark"
    register_transform(CanaryResponseTransform(CanaryBook(master)))   # policy action "canary"

The decision parameter ``per_account=true`` (e.g. from a "strengthen the watermark" action)
switches the account to its own key.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from distillguard.watermark.canary import CanaryBook
from distillguard.watermark.lexical import LexicalStream
from distillguard.watermark.transform import WatermarkTransform


class _Ctx(Protocol):
    # read-only members, so the gateway's frozen TransformContext satisfies this protocol
    @property
    def request_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def choice(self) -> int: ...
    @property
    def params(self) -> dict[str, Any]: ...


class WatermarkResponseTransform:
    """Keyed lexical watermark of every choice, streamed or whole.

    Args:
        marker: the :class:`WatermarkTransform` holding the master secret and cohorts.
    """

    name: ClassVar[str] = "watermark"

    def __init__(self, marker: WatermarkTransform) -> None:
        self.marker = marker

    def prepare(self, body: dict[str, Any], ctx: _Ctx) -> None:
        """Nothing to change upstream for a text-level mark."""
        return None

    def open(self, ctx: _Ctx) -> LexicalStream:
        """A stream marking this choice with the account's scope key."""
        if ctx.params.get("per_account"):
            self.marker.flag_account(ctx.account_id)
        return self.marker.marker(ctx.account_id).stream()


class _CanaryStream:
    def __init__(self, book: CanaryBook, account_id: str) -> None:
        self._book = book
        self._account = account_id
        self._sent = False

    def feed(self, text: str) -> str:
        self._sent = self._sent or bool(text)
        return text

    def close(self) -> str:
        if not self._sent:
            return ""
        return "\n\n" + self._book.plant("", self._account)


class CanaryResponseTransform:
    """Appends one canary fact to the first choice of each response.

    Planted canaries accumulate in ``book.planted`` (persist them for later audits).
    """

    name: ClassVar[str] = "canary"

    def __init__(self, book: CanaryBook) -> None:
        self.book = book

    def prepare(self, body: dict[str, Any], ctx: _Ctx) -> None:
        """Nothing to change upstream."""
        return None

    def open(self, ctx: _Ctx) -> Any:
        """A pass-through stream that adds the canary when the answer closes."""
        if ctx.choice != 0:
            return _PassThrough()
        return _CanaryStream(self.book, ctx.account_id)


class _PassThrough:
    def feed(self, text: str) -> str:
        return text

    def close(self) -> str:
        return ""
