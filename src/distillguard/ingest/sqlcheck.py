"""The SQL fast path for canonical JSONL: every per-line rule checked by DuckDB, vectorised.

The block fast path (:mod:`distillguard.ingest.fastpath`) parses each line twice: msgspec to
apply the rules, DuckDB to build the columns. Here a block of lines is handed to DuckDB once,
as an Arrow column of raw bytes, and ONE statement per block

* decodes the bytes as UTF-8 (``try(decode(...))``: invalid UTF-8 gives NULL, not an error),
* takes the JSON type of every leaf and object with one ``json_type`` call (54 paths), the
  keys of the top level and the five objects with one ``json_keys`` call, and the values
  with one typed ``json_transform`` (lenient, so it is trusted only where the types passed),
* checks all the types with one pattern over the joined type list, exactly as the strict
  msgspec decoder would (``"5"`` and ``5.5`` are not ints, ``5`` is a float, ``true`` only
  a bool),
* refuses unknown and duplicate keys with one count (msgspec keeps the last duplicate,
  DuckDB the first), and what DuckDB's parser accepts but JSON does not (trailing commas,
  ``NaN``/``Infinity``),
* parses timestamps with the exact accepted forms (RFC 3339 with ``Z``/offset or naive,
  epoch seconds or milliseconds, rounded half-to-even to microseconds like ``_to_utc``),
* enforces the text limit and builds the stored columns.

A row that fails any check is not an error here: it is flagged, and its run of lines goes to
the per-line path (:func:`~distillguard.ingest.jsonl.flatten_lines`), which gives the exact
file:line:field:reason. Anything the SQL is not sure to decide exactly like the reference
(an unusual timestamp form, an ASN with spaces, a missing ``request_id`` whose id is a
content hash, tools, content parts, ``extra``/``decision``) is flagged the same way, so the
stored rows are those of the per-line path (``tests/ingest/test_sqlcheck.py``).

Measured slower than the msgspec block path (docs/benchmarks.md, "Ingest"), hence opt-in:
``[ingest] sql_checks = true``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from typing import Any

import duckdb
import pyarrow as pa

from distillguard.events import ARROW_SCHEMA
from distillguard.events.model import KNOWN_FIELDS, KNOWN_NESTED
from distillguard.events.validate import _EPOCH_MS_THRESHOLD, _TS_MAX, _TS_MIN
from distillguard.ingest.jsonl import RejectTuple, flatten_lines, rows_to_table

_OBJECTS = ("client", "account", "params", "response", "usage")
_MSG_KEYS = ("role", "content", "name")
_STR, _INT, _FLOAT, _BOOL = "str", "int", "float", "bool"

#: The leaves read from each object, with the JSON type the strict decoder accepts.
_LEAVES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("request_id", _STR),
        ("org_id", _STR),
        ("api_key_id", _STR),
        ("endpoint", _STR),
        ("model", _STR),
        ("prompt", _STR),
        ("status", _INT),
        ("latency_ms", _FLOAT),
    ),
    "client": (("ip", _STR), ("user_agent", _STR), ("country", _STR)),
    "account": (
        ("email_domain", _STR),
        ("payment_fingerprint", _STR),
        ("tier", _STR),
        ("verified", _BOOL),
    ),
    "params": (
        ("temperature", _FLOAT),
        ("top_p", _FLOAT),
        ("max_tokens", _INT),
        ("n", _INT),
        ("logprobs", _BOOL),
        ("top_logprobs", _INT),
        ("stream", _BOOL),
        ("seed", _INT),
        ("reasoning_effort", _STR),
    ),
    "response": (("text", _STR), ("finish_reason", _STR)),
    "usage": (("input_tokens", _INT), ("output_tokens", _INT), ("reasoning_tokens", _INT)),
}
#: Leaves whose checks are special (timestamps, ASN, messages, tools, refused keys).
_SPECIAL: dict[str, tuple[str, ...]] = {
    "": ("ts", "account_id", "messages", "decision", "extra"),
    "client": ("asn",),
    "account": ("created_at",),
    "params": ("tools",),
}
#: Stored column of each plain leaf.
_COLUMN: dict[str, str] = {
    "client.ip": "client_ip",
    "client.user_agent": "client_user_agent",
    "client.country": "client_country",
    "account.email_domain": "account_email_domain",
    "account.payment_fingerprint": "account_payment_fingerprint",
    "account.tier": "account_tier",
    "account.verified": "account_verified",
    "response.finish_reason": "finish_reason",
    "usage.input_tokens": "input_tokens",
    "usage.output_tokens": "output_tokens",
    "usage.reasoning_tokens": "reasoning_tokens",
}
# What DuckDB's JSON reader accepts and JSON (msgspec) does not: a trailing comma and the
# NaN / Infinity literals (case-insensitive, signed). A match inside a string only makes the
# row take the per-line path. Raw control characters, comments, lone surrogates, leading
# zeros and trailing garbage are refused by both (tests check each).
# An integer of 19 digits or more may not fit a BIGINT (the typed value would be NULL): such
# a line (or one with a long digit run in a text) takes the per-line path.
_TRAILING_COMMA_RE = r",[ \t\r\n]*[\]}]|[0-9]{19}"
# RFC 3339 date-time as msgspec reads it, restricted to the forms the SQL converts exactly:
# upper-case T, Z or +hh:mm offset or none (naive = UTC), 0-6 fraction digits.
_ISO_RE = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9])(\.[0-9]{1,6})?"
    r"(Z|[-+](?:[01][0-9]|2[0-3]):[0-5][0-9])?$"
)
# Code points str.isspace() accepts (the per-line path strips account_id with str.strip()).
# The keys of every message: each one has a role, may have content and name, nothing else,
# nothing twice ("|" separates messages).
_MSG_ONE = (
    "(?:"
    + "|".join(
        [
            "role",
            "role,content",
            "role,name",
            "content,role",
            "name,role",
            "role,content,name",
            "role,name,content",
            "content,role,name",
            "content,name,role",
            "name,role,content",
            "name,content,role",
        ]
    )
    + ")"
)
_MSG_KEYS_RE = _MSG_ONE + r"(?:\|" + _MSG_ONE + ")*"
_SPACE = (
    "(c BETWEEN 9 AND 13 OR c BETWEEN 28 AND 32 OR c IN (133, 160, 5760, 8232, 8233, 8239, "
    "8287, 12288) OR c BETWEEN 8192 AND 8202)"
)


def _sq(text: str) -> str:
    """A SQL string literal (only module constants are quoted)."""
    return "'" + text.replace("'", "''") + "'"


_SQL_TYPE = {_STR: "VARCHAR", _INT: "BIGINT", _FLOAT: "DOUBLE", _BOOL: "BOOLEAN"}
#: json_type names the strict decoder accepts per kind (SQL NULL = key absent).
_ACCEPT = {
    _STR: ("VARCHAR",),
    _INT: ("BIGINT", "UBIGINT"),
    _FLOAT: ("BIGINT", "UBIGINT", "DOUBLE"),
    _BOOL: ("BOOLEAN",),
}


def _leaves() -> list[tuple[str, str, str]]:
    """(json path, value expression in the transformed struct, kind) of every typed leaf."""
    out = []
    for obj, leaves in _LEAVES.items():
        for name, kind in leaves:
            path = f"$.{obj}.{name}" if obj else f"$.{name}"
            expr = f"v.{obj}.{name}" if obj else f"v.{name}"
            out.append((path, expr, kind))
    return out


#: Paths whose json_type is read (one parse): typed leaves, then the special ones.
_SPECIAL_PATHS = (
    "$",
    "$.ts",
    "$.account_id",
    "$.messages",
    "$.decision",
    "$.extra",
    "$.client",
    "$.account",
    "$.params",
    "$.response",
    "$.usage",
    "$.client.asn",
    "$.account.created_at",
    "$.params.tools",
)


def _transform_spec() -> str:
    """The json_transform structure: typed leaves (types are checked apart, exactly)."""
    top: dict[str, Any] = {
        "ts": "VARCHAR",
        "account_id": "VARCHAR",
        "messages": [{"role": "VARCHAR", "content": "VARCHAR", "name": "VARCHAR"}],
    }
    for obj in _OBJECTS:
        top[obj] = {}
    top["client"]["asn"] = "VARCHAR"
    top["account"]["created_at"] = "VARCHAR"
    for obj, leaves in _LEAVES.items():
        target = top[obj] if obj else top
        for name, kind in leaves:
            target[name] = _SQL_TYPE[kind]
    return json.dumps(top)


def _ts_us(t: str, d: str, g: str) -> str:
    """SQL: microseconds of a timestamp of json_type ``t`` (NULL: undecided here), from its
    value as a DOUBLE ``d`` (numbers) or its RFC 3339 groups ``g`` (strings).

    Numbers follow ``_to_utc``: milliseconds above 1e11, 1990..2200, the fraction rounded
    half-to-even to whole microseconds. Strings: RFC 3339 as matched by ``_ISO_RE``.
    """
    sec = f"(CASE WHEN {d} > {_EPOCH_MS_THRESHOLD!r} THEN {d} / 1000.0 ELSE {d} END)"
    num = (
        f"CASE WHEN {sec} BETWEEN {_TS_MIN!r} AND {_TS_MAX!r} THEN trunc({sec})::BIGINT * 1000000"
        f" + round_even(({sec} - trunc({sec})) * 1e6, 0)::BIGINT END"
    )
    return (
        f"CASE WHEN {t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND isfinite({d}) THEN {num}"
        f" WHEN {t} = 'VARCHAR' AND {g}.d BETWEEN '0002' AND '9998' THEN"
        f" epoch_us(try_strptime({g}.d, '%Y-%m-%dT%H:%M:%S'))"
        f" + coalesce(try_cast(rpad(substr({g}.f, 2), 6, '0') AS BIGINT), 0)"
        f" - CASE WHEN {g}.z IN ('', 'Z') THEN 0 ELSE"
        f" (CASE WHEN starts_with({g}.z, '-') THEN -1 ELSE 1 END)"
        f" * (try_cast(substr({g}.z, 2, 2) AS BIGINT) * 60"
        f" + try_cast(substr({g}.z, 5, 2) AS BIGINT)) * 60000000 END END"
    )


@functools.lru_cache(maxsize=8)
def check_sql(limit: int, keep_text: bool) -> str:
    """The one statement per block: reads table ``blk(b BLOB)``, yields ``ok`` + columns.

    Every piece is a constant of this module or an integer: nothing user-given reaches the
    SQL text.
    """
    limit = int(limit)
    leaves = _leaves()
    paths = [p for p, _, _ in leaves] + list(_SPECIAL_PATHS)
    at = {p: f"tp[{i + 1}]" for i, p in enumerate(paths)}
    # Every json_type at once: the list as one string matched by one pattern (a regex over
    # ~300 characters is much cheaper than ~60 list look-ups and IN tests per row).
    allowed: dict[str, tuple[str, ...]] = {
        "$": ("OBJECT",),
        "$.ts": ("BIGINT", "UBIGINT", "DOUBLE", "VARCHAR"),
        "$.account_id": ("VARCHAR",),
        "$.messages": ("-", "NULL", "ARRAY"),
        "$.decision": ("-", "NULL"),
        "$.extra": ("-",),
        "$.client.asn": ("-", "NULL", "VARCHAR", "BIGINT", "UBIGINT"),
        "$.account.created_at": ("-", "NULL", "BIGINT", "UBIGINT", "DOUBLE", "VARCHAR"),
        "$.params.tools": ("-", "NULL"),
    }
    for obj in _OBJECTS:
        allowed["$." + obj] = ("-", "NULL", "OBJECT")
    for path, _, kind in leaves:
        allowed[path] = ("-", "NULL", *_ACCEPT[kind])
    sig_re = ",".join("(?:" + "|".join(allowed[p]) + ")" for p in paths)
    checks: list[str] = [
        "t IS NOT NULL",
        "NOT regexp_matches(t, " + _sq(_TRAILING_COMMA_RE) + ")",
        f"regexp_full_match(sig, {_sq(sig_re)})",
        # Every known key of the top level and of the five objects has its own path in
        # ``paths``, present (json_type not NULL) exactly when the key is. So the objects
        # hold as many keys as there are present paths (less "$") exactly when none is
        # unknown and none is given twice (msgspec keeps the last of two, DuckDB the first).
        "len(flatten(k)) = len(list_filter(tp, lambda x: x IS NOT NULL)) - 1",
    ]
    cols: dict[str, str] = {}
    for path, expr, kind in leaves:
        if kind == _FLOAT:  # NaN / Infinity (DuckDB's reader accepts them)
            checks.append(f"coalesce(isfinite({expr}), true)")
        key = path[2:]
        col = _COLUMN.get(key, "param_" + key[7:] if key.startswith("params.") else key)
        if key not in ("prompt", "response.text"):
            cols[col] = expr
    checks += [
        # ASN: a number or "AS<digits>" / "<digits>" of 1 to 10 digits (other forms,
        # negative numbers included: per-line path); the type was checked in ``sig``
        "v.client.asn IS NULL OR regexp_full_match(v.client.asn, '(?i:AS)?[0-9]{1,10}')",
        # request_id given (else the id is a hash of the normalised event: per-line path)
        "coalesce(v.request_id, '') <> ''",
        # account_id: a string, not empty, no leading/trailing white space (str.isspace)
        "v.account_id <> ''",
        "NOT list_bool_or(list_transform([unicode(v.account_id), unicode(right(v.account_id, 1))],"
        " lambda c: " + _SPACE + "))",
        "ts_us IS NOT NULL",
        "v.account.created_at IS NULL OR at_us IS NOT NULL",
        # messages: objects with a role, content and name, no other key and none twice (one
        # pattern over their keys), every value a string or null, the role not null
        # (a key holding "," or "|" would shift the pattern: the separators must number
        # one less than the values)
        f"m IS NULL OR len(m) = 0 OR (regexp_full_match(mks, {_sq(_MSG_KEYS_RE)})"
        " AND regexp_full_match(mts, '(VARCHAR|NULL)(,(VARCHAR|NULL))*')"
        " AND length(mts) - length(replace(mts, ',', ''))"
        " = length(mks) - length(replace(replace(mks, ',', ''), '|', ''))"
        " AND NOT list_contains(list_transform(m, lambda x: x.role IS NULL), true))",
        f"coalesce(length(prompt), 0) <= {limit}",
        f"coalesce(length(v.response.text), 0) <= {limit}",
        f"coalesce(list_max(list_transform(m, lambda x: length(x.content))), 0) <= {limit}",
    ]
    prompt = (
        "CASE WHEN v.prompt IS NOT NULL THEN v.prompt "
        "WHEN len(m) > 0 THEN coalesce(m[lu].content, '') END"
    )
    out = ",\n  ".join(f"{expr} AS {name}" for name, expr in cols.items())
    text_cols = (
        ", prompt AS prompt_text, v.response.text AS response_text, CASE WHEN v.prompt IS NULL"
        " AND len(m) > 1 THEN array_to_string(list_transform(list_filter(range(1, len(m) + 1),"
        " lambda i: i <> lu), lambda i: '[' || m[i].role || '] ' || coalesce(m[i].content, '')),"
        " chr(10)) END AS context_text"
        if keep_text
        else ""
    )
    tp = "[" + ", ".join(_sq(p) for p in paths) + "]"
    kp = "[" + ", ".join(_sq(p) for p in ["$", *(f"$.{o}" for o in _OBJECTS)]) + "]"
    asn = "try_cast(regexp_extract(v.client.asn, '[0-9]+') AS BIGINT)"
    msg = at["$.messages"]
    return f"""
WITH s AS (SELECT try(decode(b)) AS t FROM blk),
p AS (SELECT t, try(json_type(t, {tp})) AS tp, try(json_keys(t, {kp})) AS k,
        try(json_transform(t, {_sq(_transform_spec())})) AS v FROM s),
q AS (SELECT *, array_to_string(list_transform(tp, lambda x: coalesce(x, '-')), ',') AS sig,
        CASE WHEN {msg} = 'ARRAY' THEN v.messages END AS m,
        CASE WHEN {msg} = 'ARRAY' THEN array_to_string(list_transform(json_keys(t,
          '$.messages[*]'), lambda x: array_to_string(x, ',')), '|') END AS mks,
        CASE WHEN {msg} = 'ARRAY' THEN array_to_string(json_type(t, '$.messages[*].*'), ',')
          END AS mts,
        {at["$.ts"]} AS tt, {at["$.account.created_at"]} AS att
      FROM p),
q1 AS (SELECT *,
        CASE WHEN tt = 'VARCHAR' THEN regexp_extract(v.ts, {_sq(_ISO_RE)}, ['d', 'f', 'z']) END
          AS tg,
        CASE WHEN att = 'VARCHAR' THEN regexp_extract(v.account.created_at, {_sq(_ISO_RE)},
          ['d', 'f', 'z']) END AS ag,
        CASE WHEN tt <> 'VARCHAR' THEN try_cast(v.ts AS DOUBLE) END AS tsd,
        CASE WHEN att <> 'VARCHAR' THEN try_cast(v.account.created_at AS DOUBLE) END AS atd,
        list_position(list_reverse(list_transform(m, lambda x: x.role)), 'user') AS lur
      FROM q),
q2 AS (SELECT *, {_ts_us("tt", "tsd", "tg")} AS ts_us, {_ts_us("att", "atd", "ag")} AS at_us,
        CASE WHEN lur IS NULL THEN len(m) ELSE len(m) + 1 - lur END AS lu FROM q1),
f AS (SELECT *, {prompt} AS prompt FROM q2)
SELECT coalesce({" AND ".join(f"({c})" for c in checks)}, false) AS ok,
  v.request_id AS event_id, ts_us, v.account_id AS account_id, at_us,
  {asn} AS client_asn, CASE WHEN len(m) > 0 THEN len(m) END AS n_messages,
  length(prompt) AS prompt_chars, prompt, length(v.response.text) AS response_chars,
  {out}{text_cols}
FROM f"""  # noqa: S608 - see the docstring


class SqlChecker:
    """Runs :func:`check_sql` on blocks (one in-memory DuckDB per checker).

    Safe to use from several threads: each call uses its own cursor.
    """

    def __init__(self, threads: int = 1, memory_limit: str = "512MB") -> None:
        self._con = duckdb.connect(":memory:")
        self._con.execute(f"SET threads = {int(threads)}").fetchall()
        self._con.execute(f"SET memory_limit = '{memory_limit}'").fetchall()
        self._con.execute("SET preserve_insertion_order = true").fetchall()
        self._lock = threading.Lock()

    def check(self, lines: list[bytes], limit: int, keep_text: bool) -> pa.Table | None:
        """``ok`` and the SQL-made columns for each of ``lines`` (non-blank), in order.

        Returns None when DuckDB refused the block as a whole (the caller goes per line).
        """
        with self._lock:
            cur = self._con.cursor()
        try:
            blk = pa.table({"b": pa.array(lines, type=pa.binary())})
            cur.register("blk", blk)
            out = cur.sql(check_sql(limit, keep_text)).to_arrow_table()
        except duckdb.Error:
            return None
        finally:
            cur.close()
        return out if out.num_rows == len(lines) else None


_checker: SqlChecker | None = None
_checker_lock = threading.Lock()


def default_checker() -> SqlChecker:
    """The process-wide checker (created on first use)."""
    global _checker
    with _checker_lock:
        if _checker is None:
            _checker = SqlChecker()
        return _checker


_TS = pa.timestamp("us", tz="UTC")


def _digests(prompts: pa.ChunkedArray) -> pa.Array:
    """BLAKE2b-64 of each prompt (``prompt_digest``), from the UTF-8 bytes Arrow holds."""
    blake = hashlib.blake2b
    return pa.array(
        [
            None if b is None else blake(b, digest_size=8).hexdigest()
            for b in prompts.cast(pa.binary()).to_pylist()
        ],
        type=pa.string(),
    )


def _assemble(sql: pa.Table, keep_text: bool, source: str) -> pa.Table:
    """The stored columns, in ARROW_SCHEMA order, from the checked rows."""
    n = sql.num_rows
    null = pa.nulls(n, pa.string())
    cols: dict[str, Any] = {
        "ts": sql.column("ts_us").cast(_TS),
        "account_created_at": sql.column("at_us").cast(_TS),
        "prompt_digest": _digests(sql.column("prompt")),
        "param_tool_count": pa.nulls(n, pa.int64()),
        "param_tool_names": null,
        "decision": null,
        "extra": null,
        "source": pa.array([source] * n, type=pa.string()) if source else null,
    }
    if not keep_text:
        cols["prompt_text"] = cols["context_text"] = cols["response_text"] = null
    arrays = []
    for f in ARROW_SCHEMA:
        col = cols[f.name] if f.name in cols else sql.column(f.name)
        if col.type != f.type:
            col = col.cast(f.type)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def flatten_block_sql(
    first: int,
    lines: list[bytes],
    source: str,
    limit: int,
    keep_text: bool,
    checker: SqlChecker | None = None,
) -> tuple[pa.Table, list[RejectTuple], int]:
    """Validate and flatten lines numbered from ``first``: same result as ``flatten_lines``.

    Returns:
        (table in ARROW_SCHEMA, rejections, records read); blank lines are not records.
    """
    checker = checker or default_checker()
    idx = [i for i, line in enumerate(lines) if line and not line.isspace()]
    body = [lines[i] for i in idx] if len(idx) != len(lines) else lines
    sql = checker.check(body, limit, keep_text) if body else None
    if sql is None:
        return flatten_lines(first, lines, source, limit, keep_text)
    ok = sql.column("ok").to_pylist()
    tables: list[pa.Table] = []
    rejects: list[RejectTuple] = []
    read = 0
    j = 0  # position in body / sql
    n = len(body)
    while j < n:
        k = j + 1
        while k < n and ok[k] == ok[j]:
            k += 1
        if ok[j]:
            tables.append(_assemble(sql.slice(j, k - j), keep_text, source))
            read += k - j
        else:
            # the run of lines from body[j] up to (not including) body[k], blanks included
            lo = idx[j]
            hi = idx[k] if k < n else len(lines)
            table, rej, cnt = flatten_lines(first + lo, lines[lo:hi], source, limit, keep_text)
            tables.append(table)
            rejects.extend(rej)
            read += cnt
        j = k
    if not tables:
        return rows_to_table([]), rejects, read
    return (pa.concat_tables(tables) if len(tables) > 1 else tables[0]), rejects, read


def _paths_cover_known_keys() -> None:
    """The key-count check needs one json_type path per known key (fails at import if the
    event model gains a field this module does not read)."""
    have = {p for p, _, _ in _leaves()} | set(_SPECIAL_PATHS)
    want = {f"$.{k}" for k in KNOWN_FIELDS} | {
        f"$.{o}.{k}" for o, keys in KNOWN_NESTED.items() for k in keys
    }
    if want - have:
        raise RuntimeError(f"ingest.sqlcheck does not read {sorted(want - have)}")


_paths_cover_known_keys()
