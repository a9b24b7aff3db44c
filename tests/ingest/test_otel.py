from __future__ import annotations

import gzip
from pathlib import Path

import msgspec

from distillguard.ingest import detect_format, ingest_paths
from distillguard.store import DuckDBStore


def test_genai_spans_become_events(data_dir: Path, store: DuckDBStore) -> None:
    path = data_dir / "otel_genai.json"
    assert detect_format(path) == "otel"
    rep = ingest_paths([path], store, keep_text=True)
    # 3 GenAI spans (the HTTP span is skipped, not counted); one has no start time
    assert (rep.read, rep.accepted, rep.quarantined) == (3, 2, 1)
    assert "spans[3]: span has no startTimeUnixNano" in rep.samples[0]
    a, b = store.sql("SELECT * FROM events ORDER BY ts").to_pylist()
    assert a["account_id"] == "acct-resource"  # enduser.id (resource) before user.id (span)
    assert a["model"] == "gpt-4o" and a["endpoint"] == "chat"
    assert (a["input_tokens"], a["output_tokens"]) == (42, 7)
    assert (a["param_max_tokens"], a["param_temperature"], a["param_top_p"]) == (200, 0.5, 0.9)
    assert a["finish_reason"] == "stop" and a["latency_ms"] == 1500.0
    assert a["prompt_text"] == "Weather in Paris?" and a["response_text"] == "Rainy, 57F"
    assert a["client_ip"] == "203.0.113.9"
    assert a["request_id"] == "otel:5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174"
    extra = msgspec.json.decode(a["extra"])
    assert extra["gen_ai.provider.name"] == "openai" and extra["service.name"] == "chat-frontend"
    assert b["prompt_text"] == "Say hi" and b["response_text"] == "hi"
    assert (b["input_tokens"], b["output_tokens"]) == (11, 3)


def test_account_attribute_is_configurable(data_dir: Path, store: DuckDBStore) -> None:
    rep = ingest_paths([data_dir / "otel_genai.json"], store, account_attributes=("user.id",))
    # only the first span has user.id; the legacy span has only the resource's enduser.id
    assert (rep.accepted, rep.quarantined) == (1, 2)
    assert store.sql("SELECT account_id FROM events").to_pylist() == [{"account_id": "acct-span"}]


def test_missing_account_is_quarantined(tmp_path: Path, store: DuckDBStore) -> None:
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "t",
                                "spanId": "s",
                                "startTimeUnixNano": "1767225600000000000",
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}}
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    p = tmp_path / "spans.jsonl.gz"
    line = msgspec.json.encode(doc)
    p.write_bytes(gzip.compress(line + b"\n" + b"{oops\n" + line + b"\n"))
    rep = ingest_paths([p], store)
    assert (rep.read, rep.accepted, rep.quarantined) == (3, 0, 3)
    assert "no account" in rep.samples[0] and ":2: not valid JSON" in rep.samples[1]
    ok = ingest_paths([p], store, account_id="acct-fixed")
    assert ok.accepted == 1 and ok.duplicates == 1
