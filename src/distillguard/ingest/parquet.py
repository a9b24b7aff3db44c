"""Parquet, read in record batches: the flat stored schema or canonical (nested) shape.

*Flat* files use the columns of :data:`distillguard.events.COLUMNS` (``client_ip``,
``param_temperature``, ``prompt_digest``, ...), as written by a store export. Each row is
rebuilt into a canonical event and validated like any other; the facts a flat file has but
cannot be recomputed without the text (``event_id``, ``prompt_digest``, ``prompt_chars``,
``n_messages``, ...) are carried over from the file. *Nested* files have the canonical
event's shape (``client`` as a struct, ``messages`` as a list of structs); each row is
validated exactly as a JSON line would be. Record numbers in errors are 1-based row numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import InputError, RecordError
from distillguard.events import COLUMN_NAMES, Event, event_from_obj, event_row
from distillguard.events.model import KNOWN_FIELDS
from distillguard.ingest.base import ReadOptions, Rejected, TableChunk, preview
from distillguard.ingest.jsonl import rows_to_table

PARQUET_MAGIC = b"PAR1"
_FLAT_ONLY = frozenset(COLUMN_NAMES) - KNOWN_FIELDS - {"source"}
_PREFIXES = (("client_", "client"), ("account_", "account"), ("param_", "params"))
_USAGE = ("input_tokens", "output_tokens", "reasoning_tokens")
#: Flat columns whose stored value wins over the recomputed one (they need text to recompute).
_CARRIED = (
    "event_id",
    "n_messages",
    "prompt_chars",
    "prompt_digest",
    "response_chars",
    "param_tool_count",
    "param_tool_names",
)
_INDEX = {name: i for i, name in enumerate(COLUMN_NAMES)}
_json = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


def _prune(value: Any) -> Any:
    """Drop None members so a Parquet row equals the JSON line it came from."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


#: Flat columns derived from others: never mapped back (the carried ones win later).
_DERIVED = frozenset({*_CARRIED, "context_text", "source"})
_RENAMED = {
    "prompt_text": ("prompt", None),
    "response_text": ("response", "text"),
    "finish_reason": ("response", "finish_reason"),
    "input_tokens": ("usage", "input_tokens"),
    "output_tokens": ("usage", "output_tokens"),
    "reasoning_tokens": ("usage", "reasoning_tokens"),
}


def flat_to_canonical(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the canonical (nested) shape from a flat row (None values already pruned)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in _DERIVED:
            continue
        if key in _RENAMED:
            section, sub = _RENAMED[key]
            if sub is None:
                out[section] = value
            else:
                out.setdefault(section, {})[sub] = value
            continue
        if key in ("decision", "extra") and isinstance(value, str):
            try:
                value = _json.decode(value)
            except msgspec.DecodeError as exc:
                raise RecordError(f"column holds invalid JSON ({exc})", field=key) from None
        if key not in KNOWN_FIELDS:
            for prefix, section in _PREFIXES:
                if key.startswith(prefix):
                    out.setdefault(section, {})[key[len(prefix) :]] = value
                    break
            else:
                out[key] = value
            continue
        out[key] = value
    return out


def _is_flat(schema: pa.Schema) -> bool:
    return bool(set(schema.names) & _FLAT_ONLY)


class ParquetReader:
    """Parquet files in the flat stored schema or in the canonical nested shape."""

    name: ClassVar[str] = "parquet"
    extensions: ClassVar[tuple[str, ...]] = (".parquet", ".pq")

    def sniff(self, head: bytes) -> bool:
        """Parquet files start with ``PAR1``."""
        return head.startswith(PARQUET_MAGIC)

    def _open(self, path: Path) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None

    def _rows(
        self, path: Path, options: ReadOptions
    ) -> Iterator[tuple[int, dict[str, Any] | Rejected, bool]]:
        pf = self._open(path)
        flat = _is_flat(pf.schema_arrow)
        source = options.source_name or str(path)
        index = 0
        try:
            for batch in pf.iter_batches(batch_size=min(options.batch_size, 65_536)):
                for row in batch.to_pylist():
                    index += 1
                    yield index, row, flat
        except (pa.ArrowInvalid, OSError) as exc:
            yield (
                index + 1,
                Rejected(
                    f"Parquet data is corrupt ({exc}); the rest of the file cannot be read",
                    source=source,
                    line=index + 1,
                    field="<stream>",
                ),
                flat,
            )

    def _event(self, row: dict[str, Any], flat: bool, options: ReadOptions) -> Event:
        obj = flat_to_canonical(_prune(row)) if flat else _prune(row)
        return event_from_obj(obj, max_text_chars=options.max_text_chars)

    def read(self, path: Path, options: ReadOptions) -> Iterator[Event | Rejected]:
        """Yield each row as an event or a rejection."""
        source = options.source_name or str(path)
        for index, row, flat in self._rows(path, options):
            if isinstance(row, Rejected):
                yield row
                continue
            try:
                yield self._event(row, flat, options)
            except RecordError as exc:
                yield _rejected(exc, source, index, row)

    def read_tables(self, path: Path, options: ReadOptions) -> Iterator[TableChunk]:
        """Yield flattened batches; flat files keep their digests and event ids."""
        source = options.source_name or str(path)
        rows: list[tuple[Any, ...]] = []
        rejected: list[Rejected] = []
        read = 0
        for index, row, flat in self._rows(path, options):
            read += 1
            if isinstance(row, Rejected):
                rejected.append(row)
                continue
            try:
                event = self._event(row, flat, options)
            except RecordError as exc:
                rejected.append(_rejected(exc, source, index, row))
                continue
            out = event_row(event, keep_text=options.keep_text, source=source)
            if flat:
                out = _carry(out, row, options.keep_text)
            rows.append(out)
            if read >= options.batch_size:
                yield TableChunk(rows_to_table(rows), rejected, read)
                rows, rejected, read = [], [], 0
        if read:
            yield TableChunk(rows_to_table(rows), rejected, read)


def _carry(out: tuple[Any, ...], row: dict[str, Any], keep_text: bool) -> tuple[Any, ...]:
    values = list(out)
    for name in _CARRIED:
        if row.get(name) is not None:
            values[_INDEX[name]] = row[name]
    if keep_text and row.get("context_text") is not None:
        values[_INDEX["context_text"]] = row["context_text"]
    return tuple(values)


def _rejected(exc: RecordError, source: str, index: int, row: dict[str, Any]) -> Rejected:
    raw = _enc.encode(_prune(row)).decode() if _encodable(row) else repr(row)
    return Rejected(exc.reason, source=source, line=index, field=exc.field, raw=preview(raw))


def _encodable(row: dict[str, Any]) -> bool:
    try:
        _enc.encode(row)
    except (TypeError, msgspec.EncodeError):
        return False
    return True
