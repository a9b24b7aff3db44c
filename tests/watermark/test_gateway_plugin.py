from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.gateway.transforms import (
    TRANSFORMS,
    ResponseTransform,
    TextStream,
    TransformContext,
    get_transform,
    register_transform,
)
from distillguard.watermark.canary import CanaryBook
from distillguard.watermark.gateway_plugin import (
    CanaryResponseTransform,
    WatermarkResponseTransform,
)
from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.lexical import LexicalWatermark
from distillguard.watermark.transform import WatermarkTransform

MASTER = MasterSecret(b"G" * 32)
TEXT = (
    "An enormous method is a large problem. Perhaps kids often choose an odd approach, for example."
)


def _ctx(account: str = "acct_1", **params) -> TransformContext:
    return TransformContext("req-1", account, "", "m", "/v1/chat/completions", 0, dict(params))


@given(cuts=st.lists(st.integers(0, len(TEXT)), max_size=8))
@settings(max_examples=60, deadline=None)
def test_streamed_marking_equals_whole_text_marking(cuts: list[int]) -> None:
    wm = LexicalWatermark(MASTER.derive("cohort:x", "lexical"))
    bounds = [0, *sorted(cuts), len(TEXT)]
    stream = wm.stream()
    out = "".join(stream.feed(TEXT[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    assert out + stream.close() == wm.apply(TEXT)


def test_plugs_into_the_gateway_seam() -> None:
    saved = dict(TRANSFORMS)
    try:
        marker = WatermarkTransform(MASTER, cohorts=4)
        t = WatermarkResponseTransform(marker)
        c = CanaryResponseTransform(CanaryBook(MASTER))
        assert isinstance(t, ResponseTransform) and isinstance(c, ResponseTransform)
        register_transform(t)
        register_transform(c)
        got, found = get_transform("watermark")
        assert found and got is t
        s = t.open(_ctx())
        assert isinstance(s, TextStream)
        assert s.feed(TEXT) + s.close() == marker.transform(TEXT, "acct_1")
        t.open(_ctx("acct_9", per_account=True))
        assert marker.scope_for("acct_9") == "account:acct_9"
        cs = c.open(_ctx())
        body = cs.feed("The answer is 4.") + cs.close()
        assert body.startswith("The answer is 4.\n\nDid you know? ") and len(c.book.planted) == 1
        assert c.open(_ctx()).close() == ""  # nothing sent, nothing planted
    finally:
        TRANSFORMS.clear()
        TRANSFORMS.update(saved)
