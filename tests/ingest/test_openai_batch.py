from __future__ import annotations

import shutil
from pathlib import Path

from distillguard.ingest import detect_format, ingest_paths, read_quarantine
from distillguard.store import DuckDBStore


def test_requests_join_outputs_on_custom_id(
    data_dir: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    q = tmp_path / "q.jsonl"
    rep = ingest_paths(
        [data_dir / "batch_requests.jsonl"],
        store,
        keep_text=True,
        quarantine=q,
        batch_output=data_dir / "batch_output.jsonl",
        account_id="acct-batch",
    )
    # 4 requests + 1 output line without a request
    assert (rep.read, rep.accepted, rep.quarantined) == (5, 2, 3)
    rows = store.sql("SELECT * FROM events ORDER BY ts").to_pylist()
    a, b = rows
    assert a["request_id"] == "batch_req_a" and a["account_id"] == "acct-batch"
    assert str(a["ts"]) == "2026-01-01 00:00:50+00:00"
    assert a["prompt_text"] == "Grade this proof: 1+1=2"
    assert a["context_text"] == "[system] You are a grader."
    assert a["response_text"] == "Score: 10/10" and a["finish_reason"] == "stop"
    assert (a["param_logprobs"], a["param_top_logprobs"], a["param_max_tokens"]) == (True, 5, 200)
    assert (a["input_tokens"], a["output_tokens"], a["status"]) == (20, 5, 200)
    assert a["model"] == "gpt-4o-mini-2024-07-18" and a["endpoint"] == "/v1/chat/completions"
    assert b["param_max_tokens"] == 500 and b["reasoning_tokens"] == 12
    assert '"end_user":"end-user-9"' in b["extra"]
    recs = {(Path(r.source).name, r.line): r for r in read_quarantine(q)}
    assert "server_error" in recs[("batch_requests.jsonl", 3)].reason
    assert "no output line" in recs[("batch_requests.jsonl", 4)].reason
    assert "no matching request" in recs[("batch_output.jsonl", 4)].reason


def test_account_from_body_user_when_no_option(data_dir: Path, store: DuckDBStore) -> None:
    rep = ingest_paths(
        [data_dir / "batch_requests.jsonl"],
        store,
        fmt="openai-batch",
        batch_output=data_dir / "batch_output.jsonl",
    )
    assert rep.accepted == 1
    assert store.sql("SELECT account_id FROM events").to_pylist() == [{"account_id": "end-user-9"}]
    assert any("pass --account-id" in s for s in rep.samples)


def test_auto_detects_both_files_and_output_alone_is_read(
    data_dir: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    assert detect_format(data_dir / "batch_requests.jsonl") == "openai-batch"
    assert detect_format(data_dir / "batch_output.jsonl") == "openai-batch"
    out = tmp_path / "out.jsonl"
    shutil.copy(data_dir / "batch_output.jsonl", out)
    rep = ingest_paths([out], store, account_id="acct-x")
    assert (rep.read, rep.accepted, rep.quarantined) == (4, 3, 1)


def test_requests_without_output_is_an_unusable_source(data_dir: Path, store: DuckDBStore) -> None:
    rep = ingest_paths([data_dir / "batch_requests.jsonl"], store)
    assert not rep.usable
    assert "--batch-output" in rep.rejected_sources[0].reason


def test_reingest_is_idempotent(data_dir: Path, store: DuckDBStore) -> None:
    kw = {"batch_output": data_dir / "batch_output.jsonl", "account_id": "a"}
    ingest_paths([data_dir / "batch_requests.jsonl"], store, **kw)
    again = ingest_paths([data_dir / "batch_requests.jsonl"], store, **kw)
    assert (again.accepted, again.duplicates) == (0, 2)
