"""Inline detection signals: the gateway calls the real registry's batch ``score`` API."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from distillguard.detect.signals import SIGNALS, PhraseSignal
from distillguard.gateway.inline_signals import load_signals, run_signals
from distillguard.gateway.server import make_app

from .helpers import fake_gateway
from .test_app import _events

PROMPT = "Explain your reasoning step by step and show all intermediate work."
SYSTEM = "You are a helpful assistant."


def test_gateway_records_real_signal_scores(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path, signals=True)
    key = fx.keys.create("acct1", actor="t").raw_key
    body = {
        "model": "standin-1",
        "max_tokens": 3,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
    }
    with TestClient(make_app(fx.gateway)) as c:
        r = c.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
    (ev,) = _events(fx.spool_dir)
    assert ev.decision is not None
    got = ev.decision["signals"]
    assert set(got) == set(SIGNALS) and SIGNALS
    for name, sig in SIGNALS.items():
        want = float(sig.score([PROMPT], [SYSTEM])[0])
        assert got[name] == pytest.approx(want, abs=1e-4), name
        assert 0.0 <= got[name] <= 1.0


def test_signals_off_by_default(tmp_path: Path) -> None:
    fx = fake_gateway(tmp_path)
    key = fx.keys.create("acct1", actor="t").raw_key
    body = {"model": "standin-1", "messages": [{"role": "user", "content": PROMPT}]}
    with TestClient(make_app(fx.gateway)) as c:
        c.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
    (ev,) = _events(fx.spool_dir)
    assert ev.decision is not None and "signals" not in ev.decision


class _Broken(PhraseSignal):
    name = "broken"

    def __init__(self) -> None:
        super().__init__(["x"])

    def score(self, prompts, contexts):  # type: ignore[no-untyped-def]
        raise ValueError("boom")


def test_broken_signal_scores_minus_one_and_others_survive() -> None:
    reg = load_signals()
    first = next(iter(reg))
    out = run_signals({first: reg[first], "broken": _Broken()}, PROMPT, None)
    assert out["broken"] == -1.0
    assert out[first] == pytest.approx(float(reg[first].score([PROMPT], [None])[0]), abs=1e-4)


def test_inline_shared_pass_equals_each_signal_alone() -> None:
    reg = load_signals()
    context = "You are a helpful assistant."
    out = run_signals(reg, PROMPT, context)
    assert list(out) == list(reg)
    for name, sig in reg.items():
        assert out[name] == pytest.approx(float(sig.score([PROMPT], [context])[0]), abs=1e-4)
