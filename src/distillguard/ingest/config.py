"""``[ingest]`` configuration section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillguard.events.validate import DEFAULT_MAX_TEXT_CHARS


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """``[ingest]`` section.

    Attributes:
        quarantine: quarantine file; default ``<db name>.quarantine.jsonl`` beside the DB.
        max_text_chars: longest accepted prompt, message or response text (characters).
        batch_size: records per write to the store.
        account_id: account for inputs that carry none (OpenAI batch files, OTel spans).
        account_attributes: OTel attributes that name the account, in order of preference.
        workers: decoding processes for large JSONL files (1 = in-process, 0 = one per CPU).
        fast_path: canonical JSONL takes the block fast path (validate in Python, parse
            whole blocks in DuckDB); false forces the per-line path. Both store the same rows.
        sql_checks: with ``fast_path``, check the per-line rules in DuckDB SQL (one
            statement per block, no msgspec pass); same rows, but measured slower, so off.
        direct_writes: with ``fast_path``, a store that can (DuckDB) parses each validated
            block straight into its table in one statement; false parses blocks into Arrow
            first and writes that. Same rows; direct is faster.
    """

    quarantine: Path | None = None
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    batch_size: int = 50_000
    account_id: str | None = None
    account_attributes: tuple[str, ...] = ("enduser.id", "user.id")
    workers: int = 1
    fast_path: bool = True
    sql_checks: bool = False
    direct_writes: bool = True
