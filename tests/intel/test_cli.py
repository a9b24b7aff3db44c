from __future__ import annotations

import json

from distillguard.cli import main
from distillguard.store import DuckDBStore
from tests.intel.conftest import PROVIDER_A, load_events


def _db(path):
    store = DuckDBStore(path)
    load_events(PROVIDER_A / "events.jsonl", store)
    store.close()
    return path


def test_keygen_export_import_with_rules(tmp_path, capsys):
    keyf = tmp_path / "community.key"
    assert main(["intel", "keygen", str(keyf)]) == 0
    assert oct(keyf.stat().st_mode & 0o777) == "0o600"
    assert main(["intel", "keygen", str(keyf)]) == 2  # never overwritten
    db_a, db_b = _db(tmp_path / "a.duckdb"), _db(tmp_path / "b.duckdb")
    out = tmp_path / "bundle.json"
    assert (
        main(
            [
                "intel",
                "export",
                str(PROVIDER_A),
                "--db",
                str(db_a),
                "--out",
                str(out),
                "--tlp",
                "green",
                "--community-key-file",
                str(keyf),
            ]
        )
        == 0
    )
    bundle = json.loads(out.read_text())
    assert any(o["type"] == "campaign" for o in bundle["objects"])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: throttle\n    kinds: [payment]\n    min_score: 0.9\n"
        "    action: rate_limit\n    params: {requests_per_minute: 5}\n"
    )
    capsys.readouterr()
    assert (
        main(
            [
                "intel",
                "import",
                str(out),
                "--db",
                str(db_b),
                "--community-key-file",
                str(keyf),
                "--rules",
                str(rules),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "6 account(s)" in text and "6 decision(s)" in text
    store = DuckDBStore(db_b)
    rows = store.sql("SELECT subject_id, action, created_by FROM decisions").to_pylist()
    assert {r["action"] for r in rows} == {"rate_limit"} and len(rows) == 6
    assert all(r["subject_id"].startswith("c-") for r in rows)
    store.close()


def test_import_without_rules_makes_no_decision(tmp_path):
    keyf = tmp_path / "k"
    keyf.write_text("ab" * 32)
    db_a, db_b = _db(tmp_path / "a.duckdb"), _db(tmp_path / "b.duckdb")
    out = tmp_path / "bundle.json"
    assert (
        main(
            [
                "intel",
                "export",
                str(PROVIDER_A),
                "--db",
                str(db_a),
                "--out",
                str(out),
                "--community-key-file",
                str(keyf),
            ]
        )
        == 0
    )
    assert (
        main(["intel", "import", str(out), "--db", str(db_b), "--community-key-file", str(keyf)])
        == 0
    )
    store = DuckDBStore(db_b)
    assert store.sql("SELECT count(*) n FROM intel_hits").to_pylist()[0]["n"] > 0
    assert store.sql("SELECT count(*) n FROM decisions").to_pylist()[0]["n"] == 0
    store.close()


def test_refused_bundle_exits_1_with_reason(tmp_path):
    # CliRunner: distillguard.cli.main drops click's exit code under standalone_mode=False
    from click.testing import CliRunner

    from distillguard.cli import cli

    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "id": "bundle--x"}')
    res = CliRunner().invoke(cli, ["intel", "import", str(bad), "--db", str(tmp_path / "b.db")])
    assert res.exit_code == 1
    assert "refused: bundle id" in res.output


def test_export_without_key_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISTILLGUARD_INTEL_COMMUNITY_KEY_FILE", raising=False)
    db = _db(tmp_path / "a.duckdb")
    assert (
        main(
            ["intel", "export", str(PROVIDER_A), "--db", str(db), "--out", str(tmp_path / "x.json")]
        )
        == 2
    )
    assert "no community key" in capsys.readouterr().err


def test_match_until_replays_a_prefix(tmp_path, capsys):
    keyf = tmp_path / "k"
    keyf.write_text("ab" * 32)
    db_a, db_b = _db(tmp_path / "a.duckdb"), _db(tmp_path / "b.duckdb")
    out = tmp_path / "bundle.json"
    export = ["intel", "export", str(PROVIDER_A), "--db", str(db_a), "--out", str(out)]
    assert main([*export, "--community-key-file", str(keyf)]) == 0
    common = ["--db", str(db_b), "--community-key-file", str(keyf)]
    assert main(["intel", "import", str(out), *common, "--no-match"]) == 0

    def hits() -> int:
        store = DuckDBStore(db_b)
        try:
            return int(store.sql("SELECT count(*) n FROM intel_hits").to_pylist()[0]["n"])
        finally:
            store.close()

    assert main(["intel", "match", *common, "--until", "2000-01-01T00:00:00Z"]) == 0
    assert hits() == 0
    assert main(["intel", "match", *common]) == 0
    assert hits() > 0
    assert main(["intel", "match", *common, "--until", "yesterday"]) == 2
    assert "RFC 3339" in capsys.readouterr().err
