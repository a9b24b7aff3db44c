# ruff: noqa: S608  (table names are constants or validated by _q; values are bound)
"""Annotate every distinct prompt once: signal scores, language and template family.

:func:`annotate_prompts` is the entry point the scan calls. It reads the distinct
``prompt_digest`` of the events table (with one example of its text, its context and its
largest tool count), streams them in batches (constant memory), tokenises each batch once,
scores it with every registered signal, detects its language, assigns template families in a
second pass (the first pass counts shingle document frequencies), and writes two tables:

``prompt_signals(prompt_digest, sig_<name>..., lang, family_id)``
    one row per distinct prompt; a signal column is NULL for a prompt without text
    (privacy mode); ``family_id`` is ``-1`` when no wrapper was found.
``template_families(family_id, n_prompts, n_accounts, n_orgs, n_events, weight, example, focus)``
    one row per family, with its rarity ``weight`` (see :func:`family_weight_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from distillguard.detect.signals.base import score_signals
from distillguard.detect.signals.registry import LANGUAGE, SIGNAL_COLUMNS, SIGNALS
from distillguard.detect.signals.text import TokenBatch, tokenize
from distillguard.detect.templates import FamilyIndex, ShingleCounter, TemplateConfig
from distillguard.errors import DetectionError, StoreError

__all__ = ["SIGNAL_COLUMNS", "AnnotateReport", "annotate_prompts", "family_weight_sql"]

_TMP = "_dg_annotate_prompts"
_SIG = "_dg_annotate_signals"


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


def family_weight_sql() -> str:
    """The SQL expression of a family's rarity weight, in [0, 1].

    ``breadth * sqrt(focus) * (1 - org_share^4)``, where ``breadth = 1 - exp(-(n_orgs-1)/4)``
    (0 for a template used inside one organisation, however large its volume),
    ``focus`` = the share of its accounts' events that use the family (a campaign account
    sends little else; a customer using a popular template sends much else), and
    ``org_share`` = the share of all organisations using it (a template used by most of the
    population links nobody).
    """
    return (
        "(1 - exp(-(n_orgs - 1) / 4.0)) * sqrt(focus) "
        "* (1 - pow(n_orgs::DOUBLE / greatest(total_orgs, 1), 4))"
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


def _batches(con: duckdb.DuckDBPyConnection, batch_size: int) -> Any:
    reader = con.cursor()
    try:
        rel = reader.sql(
            f"SELECT rowid_ AS i, prompt_text, context_text, tool_count FROM {_TMP} ORDER BY rowid_"
        )
        yield from rel.to_arrow_reader(batch_size)
    except duckdb.Error as exc:
        raise StoreError(f"annotate: reading prompts failed: {exc}") from exc
    finally:
        reader.close()


def _tokenize(rb: pa.RecordBatch) -> TokenBatch:
    tools = rb.column("tool_count").to_numpy(zero_copy_only=False)
    return tokenize(rb.column("prompt_text"), rb.column("context_text"), tools)


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
    import sys
    import time

    t0 = time.perf_counter()
    ev = _q(events_table)
    cfg = template_config or TemplateConfig()
    _run(con, f"DROP TABLE IF EXISTS {_TMP}")
    _run(
        con,
        f"CREATE TABLE {_TMP} AS SELECT row_number() OVER (ORDER BY prompt_digest) - 1 AS rowid_, "
        "prompt_digest, prompt_text, context_text, tool_count FROM ("
        "SELECT prompt_digest, any_value(prompt_text) AS prompt_text, "
        "any_value(context_text) AS context_text, coalesce(max(param_tool_count), 0) AS tool_count "
        f"FROM {ev} WHERE prompt_digest IS NOT NULL GROUP BY prompt_digest)",
    )
    n, n_text = _run(con, f"SELECT count(*), count(prompt_text) FROM {_TMP}")[0]
    # pass 1: shingle document frequencies
    counter = ShingleCounter(cfg)
    if n_text:
        for rb in _batches(con, batch_size):
            counter.update(_tokenize(rb))
    # pass 2: signals, language, provisional families
    index = FamilyIndex(counter)
    names = list(SIGNALS)
    _run(con, f"DROP TABLE IF EXISTS {_SIG}")
    cols = ", ".join(f"{c} DOUBLE" for c in SIGNAL_COLUMNS)
    _run(con, f"CREATE TABLE {_SIG} (rowid_ BIGINT, {cols}, lang VARCHAR, fam BIGINT)")
    done = 0
    for rb in _batches(con, batch_size):
        batch = _tokenize(rb)
        arrays: dict[str, pa.Array] = {"rowid_": rb.column("i")}
        mask = pa.array(~batch.has_text)
        scores = score_signals(SIGNALS, batch) if n_text else {}
        for name, col in zip(names, SIGNAL_COLUMNS, strict=True):
            if n_text:
                s = scores[name].astype(np.float64)
                arrays[col] = pa.array(s, mask=mask.to_numpy(zero_copy_only=False))
            else:
                arrays[col] = pa.nulls(batch.n, pa.float64())
        arrays["lang"] = pa.array(LANGUAGE.detect_batch(batch), pa.string())
        arrays["fam"] = pa.array(index.assign(batch) if n_text else np.full(batch.n, -1))
        table = pa.table(arrays)
        con.register("_dg_annotate_batch", table)
        try:
            _run(con, f"INSERT INTO {_SIG} SELECT * FROM _dg_annotate_batch")
        finally:
            con.unregister("_dg_annotate_batch")
        done += batch.n
        if progress:
            print(f"annotate: {done}/{n} prompts", file=sys.stderr)
    # final family ids, then the two output tables
    n_prov = int(_run(con, f"SELECT coalesce(max(fam), -1) + 1 FROM {_SIG}")[0][0])
    final = index.resolve(np.arange(n_prov, dtype=np.int64))
    con.register("_dg_annotate_fam", pa.table({"prov": np.arange(n_prov), "fid": final}))
    sig_select = ", ".join(f"s.{c}" for c in SIGNAL_COLUMNS)
    try:
        _run(con, "DROP TABLE IF EXISTS prompt_signals")
        _run(
            con,
            f"CREATE TABLE prompt_signals AS SELECT p.prompt_digest, {sig_select}, s.lang, "
            "coalesce(f.fid, -1)::BIGINT AS family_id "
            f"FROM {_SIG} s JOIN {_TMP} p USING (rowid_) "
            "LEFT JOIN _dg_annotate_fam f ON f.prov = s.fam ORDER BY p.prompt_digest",
        )
    finally:
        con.unregister("_dg_annotate_fam")
    _write_families(con, ev)
    fam_rows = _run(con, "SELECT count(*), coalesce(sum(n_prompts), 0) FROM template_families")[0]
    _run(con, f"DROP TABLE IF EXISTS {_TMP}")
    _run(con, f"DROP TABLE IF EXISTS {_SIG}")
    return AnnotateReport(
        prompts=int(n),
        prompts_with_text=int(n_text),
        families=int(fam_rows[0]),
        prompts_in_families=int(fam_rows[1]),
        signals=SIGNAL_COLUMNS,
        unavailable=() if n_text else tuple(SIGNAL_COLUMNS),
        seconds=time.perf_counter() - t0,
    )


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
        ex AS (SELECT p.family_id, left(min(t.prompt_text), 300) AS example
               FROM prompt_signals p JOIN (
                   SELECT prompt_digest, any_value(prompt_text) AS prompt_text FROM {ev}
                   WHERE prompt_text IS NOT NULL GROUP BY prompt_digest) t
               USING (prompt_digest) WHERE p.family_id >= 0 GROUP BY p.family_id)
        SELECT agg.family_id::BIGINT AS family_id, n_prompts::BIGINT AS n_prompts,
               n_accounts::BIGINT AS n_accounts, n_orgs::BIGINT AS n_orgs,
               n_events::BIGINT AS n_events,
               ({family_weight_sql()})::DOUBLE AS weight, ex.example, focus.focus::DOUBLE AS focus
        FROM agg JOIN focus USING (family_id) LEFT JOIN ex USING (family_id), tot
        ORDER BY family_id""",
    )
