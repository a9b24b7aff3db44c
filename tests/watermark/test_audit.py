"""Radioactivity audits against a loopback OpenAI-compatible stand-in and real tiny weights."""

from __future__ import annotations

import json
import threading

import numpy as np
import torch

from distillguard.watermark.audit import closed_audit, control_ring, open_audit
from distillguard.watermark.keys import KeyRing
from distillguard.watermark.kgw import KGWParams
from distillguard.watermark.models import generate, next_token_argmax
from distillguard.watermark.processors import KGWLogitsProcessor
from distillguard.watermark.report import write_report
from distillguard.watermark.suspects import OpenAICompatibleSuspect

from .conftest import Fail, Hang

PROBES = [
    f"Question: {name} has {a} marbles and finds {b} more. How many marbles now?\nAnswer:"
    for name, a, b in zip(
        ["Ana", "Ben", "Cai", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"],
        range(3, 40, 3),
        range(2, 30, 2),
        strict=False,
    )
]


def _ring(master, tok, n=6):
    return KeyRing.derive(
        master, [f"cohort:c{i}" for i in range(n)], "kgw", tokenizer_fingerprint=tok.fingerprint
    )


def _marked_answerer(lm, key):
    """Answers precomputed in one batch, so the server replies instantly."""
    outs = generate(
        lm, PROBES, processors=[KGWLogitsProcessor(key, lm.vocab_size)], max_new_tokens=60, seed=1
    )
    table = {p: lm.tokenizer.decode(ids) for p, ids in zip(PROBES, outs, strict=True)}

    def answer(prompt: str, n: int) -> str:
        return table[prompt]

    return answer


def test_closed_audit_names_the_harvested_cohort_and_writes_report(
    tiny_lm, master, stand_in, tmp_path
) -> None:
    tok = tiny_lm.tokenizer
    ring = _ring(master, tok)
    with stand_in(_marked_answerer(tiny_lm, ring.keys[3])) as server:
        suspect = OpenAICompatibleSuspect(server.url, "suspect", timeout=10)
        res = closed_audit(
            suspect, PROBES, ring, control_ring(master, "kgw", 10, tok.fingerprint), tok
        )
        suspect.close()
    assert res.detected == ("cohort:c3",) and not res.partial and res.control_ok
    assert res.tested.detections[3].tokens_scored > 200
    paths = write_report(res, tmp_path)
    data = json.loads(paths.json.read_text())
    assert data["detected"] == ["cohort:c3"] and data["control_ok"]
    html = paths.html.read_text()
    assert "Watermark found" in html and "What this shows, and what it does not" in html
    for k in ring.keys:  # key ids, never key material
        assert k.key_id in html and k.material.hex() not in html + paths.json.read_text()


def test_closed_audit_survives_errors_and_timeouts_and_says_partial(
    tiny_lm, master, stand_in
) -> None:
    tok = tiny_lm.tokenizer
    ring = _ring(master, tok, 3)
    good = _marked_answerer(tiny_lm, ring.keys[0])
    release = threading.Event()

    def flaky(prompt: str, n: int) -> str:
        if n == 2:
            raise Fail(503)
        if n == 5:
            raise Hang(5.0, release)
        return good(prompt, n)

    with stand_in(flaky) as server:
        suspect = OpenAICompatibleSuspect(server.url, "suspect", timeout=0.5)
        try:
            res = closed_audit(
                suspect, PROBES, ring, control_ring(master, "kgw", 5, tok.fingerprint), tok
            )
        finally:
            release.set()
            suspect.close()
    assert res.partial and len(res.failures) == 2
    assert any("HTTP 503" in f for f in res.failures) and any(
        "timed out" in f for f in res.failures
    )
    assert all(d.partial for d in res.tested.detections)
    assert "2 of 12 probes failed" in res.notes[0]
    assert res.detected == ("cohort:c0",)


def test_closed_audit_of_dead_suspect_stops_and_reports_insufficient(
    tiny_lm, master, stand_in
) -> None:
    tok = tiny_lm.tokenizer

    def dead(prompt: str, n: int) -> str:
        raise Fail(500)

    with stand_in(dead) as server:
        suspect = OpenAICompatibleSuspect(server.url, "suspect", timeout=2)
        res = closed_audit(
            suspect,
            PROBES,
            _ring(master, tok, 2),
            control_ring(master, "kgw", 3),
            tok,
            max_consecutive_failures=3,
        )
        suspect.close()
        assert server.count == 3
    assert res.partial and res.queries == 0 and "stopped after 3" in res.notes[0]
    assert all(d.insufficient and d.p_value == 1.0 for d in res.tested.detections)
    assert not res.detected


def test_open_audit_flags_radioactive_predictions_not_clean_ones(tiny_lm, master) -> None:
    tok = tiny_lm.tokenizer
    ring = _ring(master, tok, 4)
    served = generate(
        tiny_lm,
        PROBES[:8],
        processors=[KGWLogitsProcessor(ring.keys[1], tiny_lm.vocab_size)],
        max_new_tokens=60,
        seed=4,
    )
    texts = [
        np.asarray(tok.encode(p) + s, dtype=np.int64) for p, s in zip(PROBES, served, strict=False)
    ]
    clean = next_token_argmax(tiny_lm, texts)
    # a stand-in for a fully radioactive student: the same weights with our bias learned in
    proc = KGWLogitsProcessor(ring.keys[1], tiny_lm.vocab_size, KGWParams(delta=3.0))
    radioactive = []
    with torch.no_grad():
        for t in texts:
            x = torch.from_numpy(t)[None, :]
            logits = tiny_lm.model(input_ids=x).logits[0]
            biased = torch.stack(
                [proc(x[:, : i + 1], logits[i : i + 1])[0] for i in range(len(t) - 1)]
            )
            radioactive.append(biased.argmax(-1).numpy())
    ctrl = control_ring(master, "kgw", 10, tok.fingerprint)
    hot = open_audit("radioactive", texts, radioactive, ring, ctrl, tok)
    cold = open_audit("clean", texts, clean, ring, ctrl, tok)
    assert hot.detected == ("cohort:c1",) and hot.control_ok
    assert not cold.detected and cold.control_ok
    assert cold.tested.detections[1].tokens_scored > 100
