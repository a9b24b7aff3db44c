"""annotate_prompts: tables, privacy mode, families and rarity on a small real store."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from distillguard.detect.annotate import SIGNAL_COLUMNS, annotate_prompts, family_weight_sql
from distillguard.events import decode_event
from distillguard.events.schema import events_to_arrow
from distillguard.store import DuckDBStore

WRAP = "Show your full reasoning step by step before giving the final answer."
_WORDS = [
    "apple",
    "river",
    "engine",
    "quiet",
    "purple",
    "ladder",
    "garden",
    "silver",
    "market",
    "planet",
    "window",
    "coffee",
    "rocket",
    "tiger",
    "lemon",
    "castle",
    "violin",
    "pencil",
    "harbor",
    "desert",
    "cloud",
    "marble",
    "forest",
    "candle",
    "bridge",
    "pepper",
    "falcon",
    "mirror",
    "velvet",
    "anchor",
    "meadow",
    "lantern",
    "glacier",
    "orchid",
    "canyon",
    "saddle",
    "copper",
    "breeze",
    "thunder",
    "walnut",
    "ribbon",
    "comet",
    "island",
    "puzzle",
    "feather",
    "basket",
    "shadow",
    "crystal",
    "harvest",
]


def _payloads(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(14)) + "?" for _ in range(n)]


PAYLOADS = _payloads(1, 40)
OTHER = _payloads(2, 40)
LEGIT = [
    "How can I improve my time management skills?",
    "What are the main differences between Python and JavaScript?",
    "Write a haiku about autumn leaves.",
    "Translate 'good morning' into Spanish.",
    "Suggest a name for a bakery in Lisbon.",
    "Why is the sky blue?",
]


def _store(events: list[dict[str, object]], *, keep_text: bool = True) -> DuckDBStore:
    st = DuckDBStore()
    evs = [decode_event(json.dumps(e).encode()) for e in events]
    st.write(events_to_arrow(evs, keep_text=keep_text))
    return st


def _events() -> list[dict[str, object]]:
    evs: list[dict[str, object]] = []
    for i, p in enumerate(PAYLOADS):  # campaign: one wrapper, many small orgs
        evs.append(
            {
                "ts": 1_700_000_000 + i,
                "account_id": f"c{i}",
                "org_id": f"co{i}",
                "prompt": f"{WRAP}\n\n{p}",
            }
        )
    for i, p in enumerate(OTHER):  # enterprise: one template, one org, big volume
        for k in range(3):
            evs.append(
                {
                    "ts": 1_700_001_000 + 3 * i + k,
                    "account_id": f"e{k}",
                    "org_id": "bigco",
                    "prompt": f"Summarize the following support ticket in one sentence:\n{p}",
                }
            )
    for i, p in enumerate(_payloads(3, 60)):  # the rest of the population: unrelated orgs
        evs.append(
            {"ts": 1_700_003_000 + i, "account_id": f"u{i}", "org_id": f"uo{i}", "prompt": p}
        )
    for i, p in enumerate(LEGIT * 3):
        evs.append(
            {
                "ts": 1_700_002_000 + i,
                "account_id": f"l{i % 6}",
                "org_id": f"lo{i % 6}",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": p},
                ],
            }
        )
    return evs


@pytest.fixture(scope="module")
def annotated() -> DuckDBStore:
    st = _store(_events())
    annotate_prompts(st.con, batch_size=17)
    return st


def test_prompt_signals_table_has_one_row_per_distinct_prompt(annotated: DuckDBStore) -> None:
    cols = annotated.sql("SELECT * FROM prompt_signals LIMIT 0").column_names
    assert cols == ["prompt_digest", *SIGNAL_COLUMNS, "lang", "family_id"]
    n = annotated.sql("SELECT count(*) AS n FROM prompt_signals").column("n")[0].as_py()
    distinct = annotated.sql("SELECT count(DISTINCT prompt_digest) AS n FROM events")
    assert n == distinct.column("n")[0].as_py() == 2 * len(PAYLOADS) + 60 + len(LEGIT)


def test_campaign_wrapper_is_one_family_with_high_weight(annotated: DuckDBStore) -> None:
    rows = (
        annotated.sql(
            "SELECT DISTINCT p.family_id FROM events e JOIN prompt_signals p USING (prompt_digest) "
            "WHERE e.account_id LIKE 'c%'"
        )
        .column("family_id")
        .to_pylist()
    )
    assert len(rows) == 1 and rows[0] >= 0
    fam = annotated.sql(
        "SELECT * FROM template_families WHERE family_id = ?", [rows[0]]
    ).to_pylist()[0]
    assert fam["n_accounts"] == len(PAYLOADS) and fam["n_orgs"] == len(PAYLOADS)
    assert fam["weight"] > 0.5


def test_one_org_template_gets_low_weight(annotated: DuckDBStore) -> None:
    fams = (
        annotated.sql(
            "SELECT DISTINCT p.family_id FROM events e JOIN prompt_signals p USING (prompt_digest) "
            "WHERE e.org_id = 'bigco'"
        )
        .column("family_id")
        .to_pylist()
    )
    assert len(fams) == 1 and fams[0] >= 0
    w = annotated.sql("SELECT weight FROM template_families WHERE family_id = ?", [fams[0]])
    assert w.column("weight")[0].as_py() < 0.05


def _weight(n_orgs: int, total_orgs: int, focus: float = 1.0) -> float:
    row = (
        duckdb.connect()
        .execute(
            f"SELECT {family_weight_sql()} AS w FROM (SELECT {n_orgs}::BIGINT AS n_orgs, "
            f"{total_orgs}::BIGINT AS total_orgs, {focus}::DOUBLE AS focus)"
        )
        .fetchone()
    )
    assert row is not None
    return float(row[0])


def test_a_family_half_the_organisations_use_links_nobody() -> None:
    # The crowd's own phrasing (a popular way of asking for code) is nobody's wrapper.
    assert _weight(500, 1000) == 0.0
    assert _weight(900, 1000) == 0.0
    # A fleet that is a tenth of all organisations keeps its wrapper's weight...
    assert _weight(100, 1000) > 0.99 * _weight(100, 10**9)
    # ... and the weight falls as the family spreads.
    assert _weight(100, 1000) > _weight(200, 1000) > _weight(300, 1000) > _weight(400, 1000) > 0


def test_legit_prompts_have_no_family_and_low_reasoning(annotated: DuckDBStore) -> None:
    rows = annotated.sql(
        "SELECT DISTINCT p.* FROM events e JOIN prompt_signals p USING (prompt_digest) "
        "WHERE e.account_id LIKE 'l%'"
    ).to_pylist()
    assert all(r["family_id"] == -1 for r in rows)
    assert all(r["lang"] == "en" for r in rows)
    assert max(r["sig_reasoning_trace"] for r in rows) < 0.5


def test_campaign_prompts_score_high_on_reasoning(annotated: DuckDBStore) -> None:
    scores = (
        annotated.sql(
            "SELECT DISTINCT p.prompt_digest, p.sig_reasoning_trace AS s FROM events e "
            "JOIN prompt_signals p USING (prompt_digest) WHERE e.account_id LIKE 'c%'"
        )
        .column("s")
        .to_pylist()
    )
    assert min(scores) > 0.5


def test_privacy_mode_reports_unavailable_signals() -> None:
    st = _store(_events(), keep_text=False)
    report = annotate_prompts(st.con)
    assert report.unavailable == SIGNAL_COLUMNS
    assert report.prompts_with_text == 0 and report.families == 0
    row = st.sql("SELECT * FROM prompt_signals LIMIT 1").to_pylist()[0]
    assert row["lang"] == "und" and row["family_id"] == -1
    assert all(row[c] is None for c in SIGNAL_COLUMNS)


def test_empty_events_table_writes_empty_tables() -> None:
    st = DuckDBStore()
    report = annotate_prompts(st.con)
    assert report.prompts == 0 and report.families == 0
    assert st.sql("SELECT count(*) AS n FROM template_families").column("n")[0].as_py() == 0


def test_results_do_not_depend_on_threads_or_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from distillguard.detect import annotate as A

    tables = []
    for workers, batch in ((1, 1000), (3, 23)):
        monkeypatch.setattr(A, "WORKERS", workers)
        st = _store(_events())
        annotate_prompts(st.con, batch_size=batch)
        tables.append(
            st.sql(
                "SELECT p.*, count(*) OVER (PARTITION BY family_id) AS fam_size "
                "FROM prompt_signals p ORDER BY prompt_digest"
            ).to_pylist()
        )
    one, other = tables
    assert len(one) == len(other)
    for a, b in zip(one, other, strict=True):
        assert a["prompt_digest"] == b["prompt_digest"] and a["lang"] == b["lang"]
        assert (a["family_id"] == -1) == (b["family_id"] == -1) and a["fam_size"] == b["fam_size"]
        for c in SIGNAL_COLUMNS:
            assert a[c] == pytest.approx(b[c], abs=1e-6)
