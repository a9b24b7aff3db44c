"""DuckDB-dialect SQL to Spark SQL, with sqlglot plus the rules our pipeline needs.

sqlglot does the grammar (casts, ``GROUP BY ALL``, ``arg_max`` -> ``max_by``, ``QUALIFY``,
null ordering). On top of it, :func:`to_spark` applies what sqlglot translates differently
from what DuckDB computes:

- ``epoch(ts)`` is seconds *with* the fraction in DuckDB; sqlglot's ``unix_timestamp`` drops
  it, so it becomes ``unix_micros(ts) / 1e6``.
- A decimal literal (``1.0``) is a DOUBLE in DuckDB arithmetic but a DECIMAL in Spark, where
  ``avg`` and ``/`` of decimals round to a fixed scale; literals become doubles.
- ``range(a, b)`` is a table with column ``range`` in DuckDB; Spark's has ``id``.

Functions that exist in both engines but compute different values (``hash``) cannot be
translated; :func:`portability_issues` lists them so that a test can fail on new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from distillguard.errors import StoreError

#: Functions present in both dialects whose results differ (so results would differ).
NON_PORTABLE: dict[str, str] = {
    "hash": "DuckDB hash() is 64-bit and Spark hash() is Murmur3 32-bit: use md5() instead",
    "random": "random() differs per engine: seed an explicit order instead",
}


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed DuckDB statement, classified for the Spark engine.

    Attributes:
        action: ``create`` (CREATE ... AS SELECT), ``create_empty`` (CREATE TABLE with column
            definitions), ``insert`` (INSERT INTO t SELECT), ``drop``, or ``query``.
        name: the table created, inserted into or dropped ("" for a query).
        kind: ``table`` or ``view`` for ``create``/``create_empty``/``drop``.
        sql: Spark SQL of the SELECT part (for ``create``, ``insert``, ``query``) or of the
            column list (``create_empty``: ``a BIGINT, b STRING``).
    """

    action: str
    name: str
    kind: str
    sql: str


def _transform(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.TimeToUnix):
        micros = exp.Anonymous(this="UNIX_MICROS", expressions=[node.this])
        return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number("1000000.0D")))
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        if "." in text and "e" not in text.lower() and not text.upper().endswith("D"):
            return exp.Literal.number(text + "D")
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        return _range_table(node)
    return node


def _range_table(node: exp.Table) -> exp.Expression:
    series = node.this
    end = series.args["end"]
    if not series.args.get("is_end_exclusive"):
        end = exp.Add(this=end, expression=exp.Literal.number(1))
    spark_range = exp.Table(
        this=exp.Anonymous(this="RANGE", expressions=[series.args["start"], end])
    )
    select = exp.select(exp.alias_(exp.column("id"), "range")).from_(spark_range)
    alias = node.alias or "_range"
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _generate(tree: exp.Expr) -> str:
    return tree.transform(_transform).sql(dialect="spark")


def parse(statement: str) -> exp.Expr:
    """Parse one DuckDB statement.

    Raises:
        StoreError: the statement is not valid DuckDB SQL (as sqlglot reads it).
    """
    try:
        trees = [t for t in sqlglot.parse(statement, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as exc:
        raise StoreError(f"cannot parse SQL: {exc}\n  in: {statement.strip()[:300]}") from exc
    if len(trees) != 1:
        raise StoreError(f"expected one SQL statement, got {len(trees)}: {statement[:200]}")
    return trees[0]


def to_spark(query: str) -> str:
    """Translate one DuckDB SELECT (or any statement) to Spark SQL."""
    return _generate(parse(query))


def classify(statement: str) -> Statement:
    """Parse a DuckDB statement and say what the Spark engine must do with it."""
    tree = parse(statement)
    if isinstance(tree, exp.Create):
        kind = "view" if str(tree.args.get("kind", "")).upper() == "VIEW" else "table"
        target = tree.this
        if isinstance(target, exp.Schema):
            name = target.this.name
            cols = ", ".join(
                f"{c.name} {c.args['kind'].sql(dialect='spark')}"
                for c in target.expressions
                if isinstance(c, exp.ColumnDef)
            )
            return Statement("create_empty", name, kind, cols)
        body = tree.expression
        if body is None:
            raise StoreError(f"CREATE without AS SELECT is not supported: {statement[:200]}")
        return Statement("create", target.name, kind, _generate(body))
    if isinstance(tree, exp.Drop):
        kind = "view" if str(tree.args.get("kind", "")).upper() == "VIEW" else "table"
        target = tree.this or (tree.args.get("tables") or [None])[0]
        if target is None:
            raise StoreError(f"DROP without a name: {statement[:200]}")
        return Statement("drop", target.name, kind, "")
    if isinstance(tree, exp.Insert) and tree.expression is not None:
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        return Statement("insert", name, "table", _generate(tree.expression))
    return Statement("query", "", "", _generate(tree))


def portability_issues(statement: str) -> list[str]:
    """Functions in ``statement`` that both engines have but compute differently."""
    tree = parse(statement)
    found: list[str] = []
    for node in tree.walk():
        fname = ""
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).lower()
        elif isinstance(node, exp.Func):
            fname = node.sql_name().lower()
        if fname in NON_PORTABLE and fname not in found:
            found.append(fname)
    return [f"{f}: {NON_PORTABLE[f]}" for f in found]
