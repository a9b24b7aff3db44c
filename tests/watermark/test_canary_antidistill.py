from __future__ import annotations

import numpy as np
import pytest

from distillguard.watermark.antidistill import (
    AntiDistillOptions,
    apply_options,
    scramble_steps,
    strip_logprobs,
    summarise_reasoning,
)
from distillguard.watermark.canary import CANDIDATES, CanaryBook, audit_ranking, audit_recall
from distillguard.watermark.keys import MasterSecret


def test_plant_is_unique_keyed_and_deterministic(master: MasterSecret) -> None:
    book = CanaryBook(master)
    out = book.plant("Here is your answer.", "acct_1")
    c = book.planted[0]
    assert out.startswith("Here is your answer.") and c.sentence in out
    assert c.secret in CANDIDATES and c.secret not in c.prefix
    again = CanaryBook(master).make("acct_1", 0)
    assert again == c
    other = CanaryBook(MasterSecret(b"Z" * 32)).make("acct_1", 0)
    assert other.canary_id != c.canary_id
    book.plant("x", "acct_1")
    assert book.planted[1].prefix != c.prefix or book.planted[1].secret != c.secret


def test_recall_audit_detects_memoriser_not_guesser(master: MasterSecret) -> None:
    book = CanaryBook(master)
    canaries = [book.make(f"acct_{i % 3}", i) for i in range(30)]
    truth = {c.probe: c.secret for c in canaries}
    memoriser = audit_recall(canaries, lambda p: f"It was {truth[p]}.")
    assert memoriser.hits == 30 and memoriser.p_value < 1e-20
    rng = np.random.default_rng(0)
    guesser = audit_recall(canaries, lambda p: f"Perhaps {CANDIDATES[rng.integers(64)]}.")
    assert guesser.p_value > 1e-3
    # naming every candidate is no evidence at all
    spray = audit_recall(canaries, lambda p: ", ".join(CANDIDATES))
    assert spray.hits == 30 and spray.p_value == 1.0


def test_recall_audit_partial_when_queries_fail(master: MasterSecret) -> None:
    canaries = [CanaryBook(master).make("a", i) for i in range(12)]
    res = audit_recall(canaries, lambda p: None if "1" in p[-40:] else "no idea")
    assert res.partial and "failed" in res.note and res.answered < 12


def test_ranking_audit(master: MasterSecret) -> None:
    canaries = [CanaryBook(master).make("a", i) for i in range(20)]
    secret = {c.prefix: c.secret for c in canaries}
    res = audit_ranking(canaries, lambda prefix, name: 1.0 if secret[prefix] == name else 0.0)
    assert res.hits == 20 and res.p_value < 1e-30
    flat = audit_ranking(canaries, lambda prefix, name: 0.0)
    assert flat.hits == 0 and flat.p_value == 1.0


def test_anti_distillation_options_keep_answer() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "content": "Step one.\nStep two.\nStep three.\n#### 42",
                    "reasoning_content": "First I add. Then I carry. Then I check. Then done.",
                },
                "logprobs": {"content": [{"token": "x", "logprob": -0.1}]},
            }
        ]
    }
    out = apply_options(body, AntiDistillOptions(scramble_steps=True), request_id="r1")
    msg = out["choices"][0]["message"]
    assert out["choices"][0]["logprobs"] is None
    assert msg["content"].endswith("#### 42")
    assert sorted(msg["content"].splitlines()[:3]) == ["Step one.", "Step three.", "Step two."]
    assert msg["reasoning_content"].startswith("Summary of reasoning: First I add.")
    assert "Then I carry" not in msg["reasoning_content"]
    assert body["choices"][0]["logprobs"] is not None  # input untouched
    assert strip_logprobs({"x": 1}) == {"x": 1}
    assert summarise_reasoning("Short.") == "Short."
    assert scramble_steps("one line", "r") == "one line"


def test_ledger_persists_planted_canaries_without_secrets(master: MasterSecret, tmp_path) -> None:
    from distillguard.errors import WatermarkError
    from distillguard.watermark.canary_ledger import CanaryLedger

    path = tmp_path / "ledger" / "canaries.jsonl"
    book = CanaryBook(master, CanaryLedger(path))
    book.plant("a", "acct_1")
    book.plant("b", "acct_1")
    book.plant("c", "acct_2")
    planted = list(book.planted)
    text = path.read_text()
    assert all(c.secret not in text for c in planted)  # the ledger holds no secret name
    # a restarted process continues the serials and re-derives the same canaries
    ledger = CanaryLedger(path)
    assert [e.serial for e in ledger.entries("acct_1", book.key_id)] == [0, 1]
    assert ledger.canaries(CanaryBook(master)) == planted
    assert ledger.canaries(CanaryBook(master), ["acct_2"]) == [planted[2]]
    again = CanaryBook(master, ledger)
    again.plant("d", "acct_1")
    assert again.planted[0] == CanaryBook(master).make("acct_1", 2)
    assert again.planted[0].canary_id not in {c.canary_id for c in planted}
    # the re-derived canaries feed the audit directly
    truth = {c.probe: c.secret for c in planted + again.planted}
    assert audit_recall(CanaryLedger(path).canaries(book), lambda p: truth[p]).hits == 4
    with pytest.raises(WatermarkError, match="planted under key"):
        ledger.canaries(CanaryBook(MasterSecret(b"Z" * 32)))
    path.write_text(text + '{"canary_id": "cn_x"}\n')
    with pytest.raises(WatermarkError, match=r"canaries.jsonl:4: missing field 'account_id'"):
        CanaryLedger(path)
