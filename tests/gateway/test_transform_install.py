"""The gateway installs the watermark and canary transforms from ``[watermark]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.gateway import transforms
from distillguard.gateway.server import install_response_transforms
from distillguard.gateway.transforms import TransformContext, get_transform
from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.transform import WatermarkTransform


@pytest.fixture()
def clean_registry() -> Iterator[None]:
    saved = dict(transforms.TRANSFORMS)
    yield
    transforms.TRANSFORMS.clear()
    transforms.TRANSFORMS.update(saved)


def test_nothing_is_installed_when_the_watermark_is_off(
    clean_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    monkeypatch.delenv("DISTILLGUARD_WATERMARK_ENABLED", raising=False)
    assert install_response_transforms() == ()
    assert get_transform("watermark")[1] is False


def test_enabled_watermark_marks_text_and_plants_canaries(
    clean_registry: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "master.key"
    master = MasterSecret(bytes(range(32)))  # fixed, so the marked text is deterministic
    master.save(secret)
    ledger = tmp_path / "canaries.jsonl"
    cfg = tmp_path / "dg.toml"
    cfg.write_text(
        f'[watermark]\nenabled = true\nmaster_secret_file = "{secret}"\n'
        f'canary_ledger = "{ledger}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DISTILLGUARD_CONFIG", str(cfg))
    assert install_response_transforms() == ("watermark", "canary")
    wm, found = get_transform("watermark")
    assert found
    ctx = TransformContext(
        request_id="r1",
        account_id="acct-1",
        org_id=None,
        model="m",
        endpoint="/v1/chat/completions",
        choice=0,
        params={},
    )
    text = (
        "It is important to help people understand the big problem quickly. We often use "
        "simple methods to begin, and we also show many good examples that make the answer "
        "easy to see. However, the main idea is to start small, then build a large and "
        "strong result."
    )
    stream = wm.open(ctx)
    marked = stream.feed(text) + stream.close()
    # the installed transform marks with the configured secret, exactly as the library does
    assert marked == WatermarkTransform(master, cohorts=64).transform(text, "acct-1")
    assert marked != text
    canary, found = get_transform("canary")
    assert found
    cstream = canary.open(ctx)
    planted = cstream.feed("Answer.") + cstream.close()
    assert len(planted) > len("Answer.")
    assert ledger.exists() and ledger.read_text(encoding="utf-8").strip()
