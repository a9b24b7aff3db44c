"""A strict parser for the subset of STIX 2.1 patterns that can be matched locally.

Supported: observation expressions ``[ ... ]`` joined by ``OR``; inside, comparisons
``object-path OP value`` joined by ``AND``/``OR`` (``AND`` binds tighter), with ``=``, ``IN``
and ``ISSUBSET``. Everything is turned into disjunctive normal form: a list of conjunctions,
each a list of :class:`Comparison`. Valid patterns outside the subset (qualifiers,
``FOLLOWEDBY``, ``NOT``, other operators) raise :class:`UnsupportedPattern`; text that is not
a pattern at all raises :class:`PatternSyntaxError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PATTERN_CHARS = 1_000_000


class PatternSyntaxError(ValueError):
    """The text is not a STIX pattern."""


class UnsupportedPattern(ValueError):
    """A valid pattern that the local matcher cannot evaluate."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """``object_type:path op values`` (``values`` has one item unless ``op`` is IN)."""

    object_type: str
    path: str
    op: str
    values: tuple[str, ...]


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*')
    | (?P<path>[a-z0-9][a-z0-9-]*:[A-Za-z0-9_.'\-\[\]*]+(?:'[^']*'[A-Za-z0-9_.'\-\[\]*]*)*)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<bool>true|false)
    | (?P<kw>AND|OR|IN|ISSUBSET|ISSUPERSET|LIKE|MATCHES|NOT|FOLLOWEDBY|WITHIN|REPEATS|
             START|STOP|SECONDS|TIMES)\b
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[\[\](),])
    | (?P<prefixed>[thb]'(?:[^'\\]|\\.)*')
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternSyntaxError(
                f"unexpected text at character {pos}: {text[pos : pos + 20]!r}"
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s[1:-1])


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks, self.i = toks, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise PatternSyntaxError("pattern ends too early")
        if value is not None and tok[1] != value:
            raise PatternSyntaxError(f"expected {value!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def pattern(self) -> list[list[Comparison]]:
        dnf = self.observation()
        while self.peek() is not None:
            kind, val = self.take()
            if val in ("FOLLOWEDBY", "AND", "WITHIN", "REPEATS", "START"):
                raise UnsupportedPattern(f"{val} between observations is not matched locally")
            if val != "OR":
                raise PatternSyntaxError(f"unexpected {val!r} after an observation")
            dnf += self.observation()
        return dnf

    def observation(self) -> list[list[Comparison]]:
        self.take("[")
        groups: list[list[Comparison]] = [[self.comparison()]]
        while True:
            tok = self.peek()
            if tok is None:
                raise PatternSyntaxError("missing ']'")
            if tok[1] == "]":
                self.take()
                return groups
            if tok[1] == "AND":
                self.take()
                groups[-1].append(self.comparison())
            elif tok[1] == "OR":
                self.take()
                groups.append([self.comparison()])
            else:
                raise PatternSyntaxError(f"unexpected {tok[1]!r} in an observation")

    def literal(self) -> str:
        kind, val = self.take()
        if kind == "str":
            return _unquote(val)
        if kind in ("num", "bool"):
            return val
        if kind == "prefixed":
            raise UnsupportedPattern(f"{val[0]}'...' literals are not matched locally")
        raise PatternSyntaxError(f"expected a value, found {val!r}")

    def comparison(self) -> Comparison:
        tok = self.peek()
        if tok is not None and tok[1] in ("(", "NOT"):
            raise UnsupportedPattern(f"{tok[1]!r} inside an observation is not matched locally")
        kind, path = self.take()
        if kind != "path":
            raise PatternSyntaxError(f"expected an object path, found {path!r}")
        otype, _, prop = path.partition(":")
        _, op = self.take()
        if op == "IN":
            self.take("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.take(")")
            return Comparison(otype, prop, "IN", tuple(values))
        if op in ("=", "ISSUBSET"):
            return Comparison(otype, prop, op, (self.literal(),))
        if op in ("!=", "<", ">", "<=", ">=", "LIKE", "MATCHES", "ISSUPERSET"):
            self.literal()
            raise UnsupportedPattern(f"operator {op} is not matched locally")
        raise PatternSyntaxError(f"expected a comparison operator, found {op!r}")


def parse(pattern: str) -> list[list[Comparison]]:
    """Parse ``pattern`` to disjunctive normal form.

    Raises:
        PatternSyntaxError: not a STIX pattern.
        UnsupportedPattern: valid but outside the locally matched subset.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternSyntaxError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        return _Parser(_tokens(pattern)).pattern()
    except UnsupportedPattern:
        raise
    except PatternSyntaxError:
        if _valid_elsewhere(pattern):
            raise UnsupportedPattern("valid STIX pattern outside the local subset") from None
        raise


def _valid_elsewhere(pattern: str) -> bool:
    """Ask the OASIS pattern validator (when installed) whether the pattern is valid."""
    try:
        from stix2patterns.validator import validate  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the intel extra installs it
        return False
    try:
        return bool(validate(pattern, stix_version="2.1", print_errs=False))
    except Exception:  # noqa: BLE001 - any failure of the third-party parser means invalid
        return False
