from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from distillguard.cli import cli
from distillguard.detect.evaluate import evaluate
from distillguard.detect.features import feature_names
from distillguard.detect.intel_signal import FEATURES as INTEL_FEATURES
from distillguard.detect.scan import ACCOUNTS_HEADER, run_scan
from distillguard.errors import DetectionError, InputError

from .synth import T0, campaign_events, legit_events, write_jsonl


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "accounts.csv").open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == ACCOUNTS_HEADER
        return {r["account_id"]: r for r in reader}


def _labels(rows: dict[str, dict[str, str]]) -> dict[str, str]:
    return {a: ("C1" if a.startswith("camp") else "") for a in rows}


def test_scan_finds_the_campaign_and_spares_legit(
    small_log: Path, tmp_path: Path, fake_annotator: None
) -> None:
    res = run_scan([small_log], tmp_path / "out")
    rows = _rows(tmp_path / "out")
    assert len(rows) == 52 == res.accounts
    assert len(res.campaigns) == 1
    camp = json.loads((tmp_path / "out" / "campaigns.json").read_text())[0]
    assert set(camp) >= {
        "campaign_id",
        "accounts",
        "risk",
        "tactics",
        "evidence",
        "first_seen",
        "last_seen",
        "volume",
    }
    assert sorted(camp["accounts"]) == sorted(a for a in rows if a.startswith("camp"))
    assert any("AML.T0024.002" in t["atlas"] for t in camp["tactics"])
    for a, r in rows.items():
        assert 0.0 <= float(r["risk"]) <= 1.0
        assert r["verdict"] == ("campaign" if a.startswith("camp") else "legit"), (a, r)
        assert r["top_reasons"]
    ev = evaluate(tmp_path / "out", _labels(rows))
    assert ev.recall == 1.0 and ev.fpr == 0.0 and ev.bcubed_f1 == 1.0
    html = (tmp_path / "out" / "report.html").read_text()
    assert (
        "campaign-001" in html
        and "<svg" in html
        and 'src="http' not in html
        and "<script" not in html
    )
    assert "Think step by step" not in html  # prompts are redacted by default


def test_rule_feature_names_are_the_columns_a_scan_computes(
    small_log: Path, tmp_path: Path
) -> None:
    # The names rule conditions may use (checked when a rule loads) are exactly the columns
    # of account_features, with the shipped signals, plus the peer-intel columns, which the
    # scan adds only when the store holds intel.
    res = run_scan([small_log], tmp_path / "out")
    with duckdb.connect(str(res.db), read_only=True) as con:
        cols = {r[0] for r in con.execute("DESCRIBE account_features").fetchall()}
    assert cols == feature_names() - set(INTEL_FEATURES)


def test_show_prompts_escapes_html(tmp_path: Path, fake_annotator: None) -> None:
    rng = random.Random(3)
    events = campaign_events(rng, 4, 30)
    for e in events:
        e["prompt"] = "<script>alert(1)</script> Think step by step " + e["prompt"][-12:]
    log = write_jsonl(tmp_path / "e.jsonl", legit_events(rng, 10) + events)
    run_scan([log], tmp_path / "out", show_prompts=True)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_allowlisted_org_is_legit_with_reason(tmp_path: Path, fake_annotator: None) -> None:
    rng = random.Random(5)
    events = campaign_events(rng, 6, 60)
    for e in events:
        e["org_id"] = "org-licensed"
    log = write_jsonl(tmp_path / "e.jsonl", legit_events(rng, 10) + events)
    allow = tmp_path / "allow.yaml"
    allow.write_text(
        'entries:\n  - org: org-licensed\n    reason: "Licensed distillation #7"\n'
        "    expires: 2999-01-01\n"
    )
    res = run_scan([log], tmp_path / "out", allowlist=allow)
    rows = _rows(tmp_path / "out")
    assert res.campaigns == ()
    assert rows["camp-000"]["verdict"] == "legit"
    assert (
        "allow-listed until 2999-01-01: Licensed distillation #7" in rows["camp-000"]["top_reasons"]
    )
    allow.write_text(
        "entries:\n  - org: org-licensed\n    reason: expired deal\n    expires: 2001-01-01\n"
    )
    run_scan(None, tmp_path / "out2", db=tmp_path / "out" / "scan.duckdb", allowlist=allow)
    assert _rows(tmp_path / "out2")["camp-000"]["verdict"] == "campaign"


def test_privacy_mode_runs_and_lists_unavailable_signals(tmp_path: Path) -> None:
    rng = random.Random(7)
    events = legit_events(rng, 20) + campaign_events(rng, 10, 80, privacy=True)
    for e in events:
        e.pop("prompt", None)
    res = run_scan([write_jsonl(tmp_path / "e.jsonl", events)], tmp_path / "out")
    assert any("no prompt text" in u for u in res.unavailable)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Signals unavailable" in html
    assert len(_rows(tmp_path / "out")) == 30
    assert res.edges_by_kind.get("payment", 0) > 0


def test_store_ingested_without_text_is_scanned_in_privacy_mode(tmp_path: Path) -> None:
    """Regression: `distillguard ingest` keeps each prompt's digest but not its text by
    default; the scan took the digests for text, computed every text signal as "no
    distillation content" and did not report them unavailable."""
    from distillguard.ingest import ingest_paths
    from distillguard.store import DuckDBStore

    rng = random.Random(7)
    events = legit_events(rng, 20) + campaign_events(rng, 10, 80)
    for e in events:
        if e["account_id"].startswith("camp"):
            # Metadata only, like demo-week's datacenter hydra: fresh sign-ups on one card,
            # rotating addresses, long answers; no logprobs, max_tokens below the cap.
            e["client"]["ip"] = f"198.51.{rng.randrange(200)}.{rng.randrange(250)}"
            e["params"] = {"max_tokens": 512}
    db = tmp_path / "store.duckdb"
    store = DuckDBStore(db)
    try:
        ingest_paths([write_jsonl(tmp_path / "e.jsonl", events)], store)  # no keep_text
        digests, texts = store.con.execute(
            "SELECT count(prompt_digest), count(prompt_text) FROM events"
        ).fetchall()[0]
    finally:
        store.close()
    assert digests > 0 and texts == 0
    res = run_scan(None, tmp_path / "out", db=db)
    assert any("no prompt text" in u for u in res.unavailable)
    assert "Signals unavailable" in (tmp_path / "out" / "report.html").read_text()
    rows = _rows(tmp_path / "out")
    assert len(rows) == 30
    # The privacy-mode model finds the fleet on metadata (the text-mode model, without its
    # content term, puts it under every membership threshold); legitimate organisations'
    # accounts sharing their card and rotating addresses stay legit.
    for a, r in rows.items():
        assert r["verdict"] == ("campaign" if a.startswith("camp") else "legit"), (a, r)


@pytest.mark.parametrize("shape", ["one_event", "one_minute", "one_year", "one_account"])
def test_degenerate_logs_do_not_crash(tmp_path: Path, shape: str, fake_annotator: None) -> None:
    rng = random.Random(9)
    if shape == "one_event":
        events = campaign_events(rng, 1, 1)
    elif shape == "one_minute":
        events = campaign_events(rng, 5, 20, step_s=2.0)
    elif shape == "one_year":
        events = campaign_events(rng, 3, 40, step_s=86400 * 9.0)
    else:
        events = campaign_events(rng, 1, 300, step_s=30.0)
    res = run_scan([write_jsonl(tmp_path / "e.jsonl", events)], tmp_path / "out")
    rows = _rows(tmp_path / "out")
    assert len(rows) == res.accounts == len({e["account_id"] for e in events})
    assert all(r["verdict"] in ("legit", "suspect", "campaign") for r in rows.values())
    assert (tmp_path / "out" / "report.html").stat().st_size > 500


def test_until_replays_a_prefix(small_log: Path, tmp_path: Path, fake_annotator: None) -> None:
    run_scan([small_log], tmp_path / "full")
    res = run_scan(
        None,
        tmp_path / "early",
        db=tmp_path / "full" / "scan.duckdb",
        until=T0 + timedelta(minutes=10),
    )
    assert res.events < 1000 and res.accounts <= 52
    with pytest.raises(DetectionError, match="no events"):
        run_scan(
            None,
            tmp_path / "none",
            db=tmp_path / "full" / "scan.duckdb",
            until=datetime(2000, 1, 1, tzinfo=UTC),
        )


def test_unusable_input_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"no": 1}\n')
    with pytest.raises(InputError, match="no usable events"):
        run_scan([bad], tmp_path / "out")
    result = CliRunner().invoke(cli, ["scan", str(bad), "--out", str(tmp_path / "o2")])
    assert result.exit_code != 0


def test_cli_scan_no_text_keeps_no_prompt_text_and_scans_in_privacy_mode(
    small_log: Path, tmp_path: Path
) -> None:
    res = CliRunner().invoke(cli, ["scan", str(small_log), "--no-text", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "no prompt text" in res.output
    con = duckdb.connect(str(tmp_path / "scan.duckdb"), read_only=True)
    try:
        digests, texts = con.execute(
            "SELECT count(prompt_digest), count(prompt_text) FROM events"
        ).fetchall()[0]
    finally:
        con.close()
    assert digests > 0 and texts == 0


def test_cli_scan_and_eval(small_log: Path, tmp_path: Path, fake_annotator: None) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(cli, ["scan", str(small_log), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "accepted" in res.output and "campaign-001" in res.output
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "account_id,campaign_id\n"
        + "".join(f"{a},{'C1' if a.startswith('camp') else ''}\n" for a in _rows(out))
    )
    res = runner.invoke(cli, ["eval", "--labels", str(labels), str(out)])
    assert res.exit_code == 0, res.output
    assert "recall 1.0000" in res.output and "C1: 12/12" in res.output
    # with the events, time to detection from replays of the scan's store
    res = runner.invoke(
        cli, ["eval", "--labels", str(labels), str(out), "--events", str(small_log)]
    )
    assert res.exit_code == 0, res.output
    assert "C1: 12/12 accounts flagged (found)  flagged as a campaign after" in res.output


def test_time_to_detection_in_words() -> None:
    from distillguard.detect.cli import _when
    from distillguard.detect.evaluate import DetectionTime

    assert _when(DetectionTime(0.05, 0.01)) == (
        "  flagged as a campaign after 5.0% of its volume (first account flagged after 1.0%)"
    )
    assert _when(DetectionTime(0.02, 0.02)) == "  flagged as a campaign after 2.0% of its volume"
    assert _when(DetectionTime(None, 0.1)) == (
        "  an account flagged after 10.0% of its volume, never as a campaign"
    )
    assert _when(DetectionTime(None, None)) == _when(None) == "  never flagged"


def test_cli_scan_config_file_carries_detect_and_intel(small_log: Path, tmp_path: Path) -> None:
    """`scan --config` reads [detect] and [intel] from one file; a bad key names its section."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[intel]\nno_such_key = 1\n")
    res = CliRunner().invoke(
        cli, ["scan", str(small_log), "--out", str(tmp_path / "o"), "--config", str(bad)]
    )
    assert res.exit_code != 0
    assert (
        "[intel]" in str(res.exception) + res.output
        and "no_such_key" in str(res.exception) + res.output
    )


def test_edge_kinds_in_the_configuration_must_exist(tmp_path: Path) -> None:
    # A misspelt kind would silently weigh nothing or tie no operator's accounts.
    from distillguard.detect.config import EDGE_KINDS, load_detect_config
    from distillguard.detect.linking import EDGE_REASONS
    from distillguard.errors import ConfigError

    assert set(EDGE_KINDS) == set(EDGE_REASONS)
    for line in (
        'identity_split_kinds = ["paymnt", "ip"]',
        'behaviour_split_kinds = ["lockstep", "familly"]',
        "edge_weights = { ip = 0.8, paymnt = 2.0 }",
    ):
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[detect]\n{line}\n")
        with pytest.raises(ConfigError, match="unknown edge kind"):
            load_detect_config(cfg)
    cfg.write_text('[detect]\nedge_weights = { ip = 0.8 }\nidentity_split_kinds = ["payment"]\n')
    assert load_detect_config(cfg).identity_split_kinds == ("payment",)
