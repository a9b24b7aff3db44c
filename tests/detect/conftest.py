from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from distillguard.detect import scan as scan_mod

from .synth import campaign_events, legit_events, write_jsonl


def fake_annotate(con: Any, progress: bool) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """A stand-in annotator for logic tests: one keyword signal and digest-free families."""
    con.execute(
        """CREATE OR REPLACE TABLE prompt_signals AS
        SELECT prompt_digest,
          max(CASE WHEN prompt_text LIKE '%step by step%' THEN 0.9 ELSE 0.05 END) AS sig_reasoning,
          'en' AS lang,
          max(CASE WHEN prompt_text LIKE 'Solve the following%' THEN 1
                   ELSE 100 + hash(prompt_text) % 1000 END) AS family_id
        FROM ev WHERE prompt_digest IS NOT NULL GROUP BY prompt_digest"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TABLE template_families AS
        SELECT s.family_id, count(DISTINCT s.prompt_digest) AS n_prompts,
          count(DISTINCT e.account_id) AS n_accounts,
          count(DISTINCT coalesce(e.org_id, e.account_id)) AS n_orgs, count(*) AS n_events,
          CASE WHEN count(DISTINCT coalesce(e.org_id, e.account_id)) >= 2 THEN 1.0 ELSE 0.0 END
              AS weight, any_value(e.prompt_text) AS example
        FROM ev e JOIN prompt_signals s USING (prompt_digest) GROUP BY s.family_id"""
    ).fetchall()
    return [], {"reasoning": ("AML.T0024.002",)}


@pytest.fixture()
def fake_annotator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "_annotate", fake_annotate)


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(11)
    events = legit_events(rng, 40) + campaign_events(rng, 12, 60)
    return write_jsonl(tmp_path_factory.mktemp("log") / "events.jsonl", events)
