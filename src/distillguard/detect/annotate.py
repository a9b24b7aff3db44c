# ruff: noqa: S608  (table names are constants or validated by _q; values are bound)
"""Annotate every distinct prompt once: signal scores, language and template family.

:func:`annotate_prompts` is the entry point the scan calls. It reads the distinct
``prompt_digest`` of the events table (with one example of its text, its context and its
largest tool count) in prompt-digest order, streams them in batches, and reads each prompt's
text exactly once: the parts of a batch are tokenised, scored with every registered signal,
language-tagged and shingled on worker threads (the compiled kernels release the GIL).
Per-batch results and template shingles are spilled to a temporary directory (memory stays
bounded by a batch); once every shingle has been counted, a second pass over the spilled
shingles (no text) assigns template families. Then it writes two tables:

``prompt_signals(prompt_digest, sig_<name>..., lang, family_id)``
    one row per distinct prompt; a signal column is NULL for a prompt without text
    (privacy mode); ``family_id`` is ``-1`` when no wrapper was found.
``template_families(family_id, n_prompts, n_accounts, n_orgs, n_events, weight, example, focus)``
    one row per family, with its rarity ``weight`` (see :func:`family_weight_sql`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc

from distillguard.detect.signals.base import score_signals
from distillguard.detect.signals.registry import LANGUAGE, SIGNAL_COLUMNS, SIGNALS
from distillguard.detect.signals.text import TokenBatch, tokenize
from distillguard.detect.templates import (
    FamilyIndex,
    ShingleCounter,
    TemplateConfig,
    window_shingles,
    window_words,
)
from distillguard.errors import DetectionError, StoreError

__all__ = ["SIGNAL_COLUMNS", "AnnotateReport", "annotate_prompts", "family_weight_sql"]

#: threads of the text pass (each scores a part of every batch)
WORKERS = max(1, min(4, os.cpu_count() or 1))

_PROMPTS_SQL = (
    # min() rather than any_value(): every engine must pick the same row (DuckDB/Spark parity)
    "SELECT prompt_digest, min(prompt_text) AS prompt_text, "
    "min(context_text) AS context_text, "
    "coalesce(max(param_tool_count), 0) AS tool_count "
    "FROM {ev} WHERE prompt_digest IS NOT NULL GROUP BY prompt_digest ORDER BY prompt_digest"
)


@dataclass(frozen=True, slots=True)
class AnnotateReport:
    """What :func:`annotate_prompts` did.

    Attributes:
        prompts: distinct prompts annotated (rows of ``prompt_signals``).
        prompts_with_text: of those, how many had text.
        families: template families found (rows of ``template_families``).
        prompts_in_families: distinct prompts that belong to a family.
        signals: the signal columns written.
        unavailable: signals that could not be computed at all (no prompt text: privacy mode).
        seconds: wall-clock time.
    """

    prompts: int
    prompts_with_text: int
    families: int
    prompts_in_families: int
    signals: tuple[str, ...]
    unavailable: tuple[str, ...]
    seconds: float


#: A template family used by this share of all organisations or more links nobody: it is
#: the crowd's way of writing (a popular coding-help phrasing), not a campaign's wrapper.
CROWD_ORG_SHARE = 0.5


def family_weight_sql() -> str:
    """The SQL expression of a family's rarity weight, in [0, 1].

    ``breadth * sqrt(focus) * (1 - min(org_share / CROWD_ORG_SHARE, 1)^4)``, where
    ``breadth = 1 - exp(-(n_orgs-1)/4)`` (0 for a template used inside one organisation,
    however large its volume), ``focus`` = the share of its accounts' events that use the
    family (a campaign account sends little else; a customer using a popular template sends
    much else), and ``org_share`` = the share of all organisations using it (a template used
    by half of the population or more links nobody).
    """
    return (
        "(1 - exp(-(n_orgs - 1) / 4.0)) * sqrt(focus) "
        f"* (1 - pow(least(n_orgs::DOUBLE / greatest(total_orgs, 1) / {CROWD_ORG_SHARE}, 1), 4))"
    )


def _q(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise DetectionError(f"invalid table name {name!r}")
    return name


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.Error as exc:
        raise StoreError(f"annotate: query failed: {exc}") from exc


def _tokenize(rb: pa.RecordBatch) -> TokenBatch:
    tools = rb.column("tool_count").to_numpy(zero_copy_only=False)
    return tokenize(rb.column("prompt_text"), rb.column("context_text"), tools)


def _score(rb: pa.RecordBatch, batch: TokenBatch) -> pa.Table:
    """One output row per prompt of the batch: digest, signal scores (NULL without text), lang."""
    arrays: dict[str, pa.Array] = {"prompt_digest": rb.column("prompt_digest")}
    has_text = bool(batch.has_text.any())
    scores = score_signals(SIGNALS, batch) if has_text else {}
    for name, col in zip(SIGNALS, SIGNAL_COLUMNS, strict=True):
        if has_text:
            arrays[col] = pa.array(scores[name].astype(np.float64), mask=~batch.has_text)
        else:
            arrays[col] = pa.nulls(batch.n, pa.float64())
    arrays["lang"] = pa.array(LANGUAGE.detect_batch(batch), pa.string())
    return pa.table(arrays)


@dataclass(frozen=True, slots=True)
class _Part:
    """What the text pass produced for one part of a batch."""

    n: int
    n_text: int
    signals: pa.Table
    shingles: npt.NDArray[np.uint64]
    parents: npt.NDArray[np.int64]
    words: npt.NDArray[np.uint64]
    word_parents: npt.NDArray[np.int64]


def _process(rb: pa.RecordBatch, cfg: TemplateConfig) -> _Part:
    """Tokenise once; score, detect language and take the template shingles."""
    batch = _tokenize(rb)
    n_text = int(batch.has_text.sum())
    h, par = window_shingles(batch, cfg) if n_text else (np.empty(0, np.uint64), batch.parent)
    w, wpar = window_words(batch, cfg) if n_text else (np.empty(0, np.uint64), batch.parent)
    return _Part(batch.n, n_text, _score(rb, batch), h, par, w, wpar)


class _Spill:
    """Per-batch results kept in a temporary directory (memory stays bounded by one batch)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.signals: list[Path] = []
        self.shingles: list[tuple[Path, int, int]] = []

    def add_signals(self, table: pa.Table) -> None:
        path = self.root / f"signals-{len(self.signals)}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        self.signals.append(path)

    def add_shingles(self, part: _Part, first: int) -> None:
        path = self.root / f"shingles-{len(self.shingles)}"
        np.save(path.with_suffix(".h.npy"), part.shingles)
        np.save(path.with_suffix(".p.npy"), part.parents.astype(np.int32))
        np.save(path.with_suffix(".w.npy"), part.words)
        np.save(path.with_suffix(".q.npy"), part.word_parents.astype(np.int32))
        self.shingles.append((path, first, part.n))

    def read_signals(self) -> pa.Table:
        tables = [pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in self.signals]
        return pa.concat_tables(tables)


def _families(spill: _Spill, cfg: TemplateConfig, counter: ShingleCounter) -> tuple[pa.Table, int]:
    """Family of every prompt that has one: (row number, final family id); and the count."""
    index = FamilyIndex(counter)
    rows: list[npt.NDArray[np.int64]] = []
    prov: list[npt.NDArray[np.int64]] = []
    for path, first, size in spill.shingles:
        h = np.load(path.with_suffix(".h.npy"))
        par = np.load(path.with_suffix(".p.npy")).astype(np.int64)
        w = np.load(path.with_suffix(".w.npy"))
        wpar = np.load(path.with_suffix(".q.npy")).astype(np.int64)
        fam = index.assign_shingles(h, par, size, (w, wpar))
        keep = np.flatnonzero(fam >= 0)
        rows.append(first + keep)
        prov.append(fam[keep])
    r = np.concatenate(rows) if rows else np.empty(0, np.int64)
    p = np.concatenate(prov) if prov else np.empty(0, np.int64)
    final = index.resolve(p)
    return pa.table({"i": r.astype(np.int64), "fid": final.astype(np.int64)}), int(
        np.unique(final[final >= 0]).size
    )


def annotate_prompts(
    con: duckdb.DuckDBPyConnection,
    *,
    events_table: str = "events",
    batch_size: int = 50_000,
    progress: bool = False,
    template_config: TemplateConfig | None = None,
) -> AnnotateReport:
    """Score every distinct prompt of ``events_table`` and write the two tables.

    Args:
        con: an open DuckDB connection holding ``events_table``.
        events_table: table with the columns of :mod:`distillguard.events.schema`.
        batch_size: prompts per batch (memory is proportional to it).
        progress: print progress to stderr.
        template_config: template-family parameters (defaults otherwise).

    Returns:
        An :class:`AnnotateReport`.
    """
    t0 = time.perf_counter()
    ev = _q(events_table)
    cfg = template_config or TemplateConfig()
    counter = ShingleCounter(cfg)
    n = n_text = 0
    with tempfile.TemporaryDirectory(prefix="dg-annotate-") as root:
        spill = _Spill(root)
        # one pass over the text: signals, language, shingle counts; results are spilled.
        # Nothing else may run on ``con`` while its result streams (``ev`` may be a TEMP view
        # that another cursor cannot see).
        try:
            reader = con.sql(_PROMPTS_SQL.format(ev=ev)).to_arrow_reader(batch_size)
            with ThreadPoolExecutor(WORKERS) as pool:
                for rb in reader:
                    # the kernels and Arrow release the GIL: parts of a batch run in parallel
                    step = max(1, -(-rb.num_rows // WORKERS))
                    parts = [rb.slice(lo, step) for lo in range(0, rb.num_rows, step)]
                    for part in pool.map(lambda p: _process(p, cfg), parts):
                        spill.add_signals(part.signals)
                        if part.n_text:
                            counter.update_shingles(part.shingles, part.n)
                            spill.add_shingles(part, n)
                        n += part.n
                        n_text += part.n_text
                    if progress:
                        print(f"annotate: {n} prompts scored", file=sys.stderr)
        except duckdb.Error as exc:
            raise StoreError(f"annotate: reading prompts failed: {exc}") from exc
        # families need every prompt's shingle counts first: a pass over the spilled shingles
        fam_table, n_fam = _families(spill, cfg, counter)
        sig = spill.read_signals() if spill.signals else _empty_signals()
        sig = sig.append_column("i", pa.array(np.arange(sig.num_rows, dtype=np.int64)))
        con.register("_dg_annotate_sig", sig)
        con.register("_dg_annotate_fam", fam_table)
        cols = ", ".join(f"s.{c}" for c in SIGNAL_COLUMNS)
        try:
            _run(con, "DROP TABLE IF EXISTS prompt_signals")
            _run(
                con,
                f"CREATE TABLE prompt_signals AS SELECT s.prompt_digest, {cols}, s.lang, "
                "coalesce(f.fid, -1)::BIGINT AS family_id FROM _dg_annotate_sig s "
                "LEFT JOIN _dg_annotate_fam f USING (i) ORDER BY s.prompt_digest",
            )
        finally:
            con.unregister("_dg_annotate_sig")
            con.unregister("_dg_annotate_fam")
    _write_families(con, ev)
    fam_rows = _run(con, "SELECT count(*), coalesce(sum(n_prompts), 0) FROM template_families")[0]
    if progress:
        print(f"annotate: {n_fam} template families", file=sys.stderr)
    return AnnotateReport(
        prompts=n,
        prompts_with_text=n_text,
        families=int(fam_rows[0]),
        prompts_in_families=int(fam_rows[1]),
        signals=SIGNAL_COLUMNS,
        unavailable=() if n_text else tuple(SIGNAL_COLUMNS),
        seconds=time.perf_counter() - t0,
    )


def _empty_signals() -> pa.Table:
    fields = [pa.field("prompt_digest", pa.string())]
    fields += [pa.field(c, pa.float64()) for c in SIGNAL_COLUMNS]
    fields.append(pa.field("lang", pa.string()))
    return pa.schema(fields).empty_table()


def _write_families(con: duckdb.DuckDBPyConnection, ev: str) -> None:
    _run(con, "DROP TABLE IF EXISTS template_families")
    _run(
        con,
        f"""CREATE TABLE template_families AS
        WITH e AS (
            SELECT e.account_id, coalesce(e.org_id, 'account:' || e.account_id) AS org,
                   p.family_id, p.prompt_digest
            FROM {ev} e JOIN prompt_signals p USING (prompt_digest)),
        fa AS (SELECT family_id, account_id, count(*) AS n FROM e WHERE family_id >= 0
               GROUP BY ALL),
        acct AS (SELECT account_id, count(*) AS total FROM {ev} GROUP BY account_id),
        focus AS (SELECT fa.family_id, sum(fa.n)::DOUBLE / sum(acct.total) AS focus
                  FROM fa JOIN acct USING (account_id) GROUP BY fa.family_id),
        agg AS (SELECT family_id, count(DISTINCT prompt_digest) AS n_prompts,
                       count(DISTINCT account_id) AS n_accounts, count(DISTINCT org) AS n_orgs,
                       count(*) AS n_events FROM e WHERE family_id >= 0 GROUP BY family_id),
        tot AS (SELECT count(DISTINCT coalesce(org_id, 'account:' || account_id)) AS total_orgs
                FROM {ev}),
        first AS (SELECT family_id, min(prompt_digest) AS prompt_digest FROM prompt_signals
                  WHERE family_id >= 0 GROUP BY family_id),
        ex AS (SELECT first.family_id, left(min(t.prompt_text), 300) AS example
               FROM first JOIN {ev} t USING (prompt_digest)
               WHERE t.prompt_text IS NOT NULL GROUP BY first.family_id)
        SELECT agg.family_id::BIGINT AS family_id, n_prompts::BIGINT AS n_prompts,
               n_accounts::BIGINT AS n_accounts, n_orgs::BIGINT AS n_orgs,
               n_events::BIGINT AS n_events,
               ({family_weight_sql()})::DOUBLE AS weight, ex.example, focus.focus::DOUBLE AS focus
        FROM agg JOIN focus USING (family_id) LEFT JOIN ex USING (family_id), tot
        ORDER BY family_id""",
    )
