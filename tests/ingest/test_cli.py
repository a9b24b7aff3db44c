from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import cli
from distillguard.store import DuckDBStore
from tests.ingest.conftest import event_obj


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("DISTILLGUARD_CONFIG", raising=False)
    return CliRunner()


def test_ingest_prints_counts_and_writes_quarantine_beside_db(
    runner: CliRunner, write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    p = write_jsonl("e.jsonl", [event_obj(i) for i in range(5)], extra=b"nope\n")
    db = tmp_path / "dg.duckdb"
    res = runner.invoke(cli, ["ingest", str(p), "--db", str(db), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "total" in res.output and "quarantined" in res.output
    q = tmp_path / "dg.quarantine.jsonl"
    assert q.is_file() and str(q) in res.output.replace("\n", "")
    with DuckDBStore(db, read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 5}]


def test_strict_exits_1_when_something_was_quarantined(
    runner: CliRunner, write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    p = write_jsonl("e.jsonl", [event_obj(1)], extra=b"nope\n")
    res = runner.invoke(cli, ["ingest", str(p), "--db", str(tmp_path / "d.duckdb"), "--strict"])
    assert res.exit_code == 1


def test_strict_exits_0_on_clean_input(
    runner: CliRunner, write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    p = write_jsonl("e.jsonl", [event_obj(1)])
    res = runner.invoke(cli, ["ingest", str(p), "--db", str(tmp_path / "d.duckdb"), "--strict"])
    assert res.exit_code == 0, res.output


def test_nothing_readable_exits_2_with_the_reason(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(
        cli, ["ingest", str(tmp_path / "missing.jsonl"), "--db", str(tmp_path / "d.duckdb")]
    )
    assert res.exit_code == 2
    assert "missing.jsonl: no such file or directory" in res.output


def test_openai_batch_options(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        cli,
        [
            "ingest",
            str(data_dir / "batch_requests.jsonl"),
            "--format",
            "openai-batch",
            "--batch-output",
            str(data_dir / "batch_output.jsonl"),
            "--account-id",
            "acct-7",
            "--db",
            str(tmp_path / "d.duckdb"),
            "--quarantine",
            str(tmp_path / "q.jsonl"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "q.jsonl").is_file()


def test_stats_summarises_the_store(
    runner: CliRunner, write_jsonl: Callable[..., Path], tmp_path: Path
) -> None:
    p = write_jsonl("e.jsonl", [event_obj(i) for i in range(20)])
    db = str(tmp_path / "d.duckdb")
    assert runner.invoke(cli, ["ingest", str(p), "--db", db, "--keep-text"]).exit_code == 0
    res = runner.invoke(cli, ["stats", "--db", db])
    assert res.exit_code == 0, res.output
    for word in ("events", "accounts", "m-large", "Explain step", "ingest runs", "2026-01-01"):
        assert word in res.output


def test_stats_on_a_missing_db_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["stats", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "run `distillguard ingest` first" in res.output


def test_default_db_comes_from_config(
    runner: CliRunner,
    write_jsonl: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "from-config.duckdb"
    monkeypatch.setenv("DISTILLGUARD_STORE_DB", str(db))
    p = write_jsonl("e.jsonl", [event_obj(1)])
    assert runner.invoke(cli, ["ingest", str(p)]).exit_code == 0
    assert db.is_file()


@pytest.mark.parametrize("command", ["ingest", "stats"])
def test_help_has_examples(runner: CliRunner, command: str) -> None:
    res = runner.invoke(cli, [command, "--help"])
    assert res.exit_code == 0 and "Examples:" in res.output
