"""Detection rules as code: YAML files with metadata, a condition and their own tests.

A rule file holds one rule (a mapping) or a list of rules::

    id: dg-reasoning-harvest
    title: Account harvests reasoning traces at volume
    level: high                       # low | medium | high | critical
    tags: [attack.AML.T0024.002]      # MITRE ATLAS technique ids
    falsepositives: [Research teams evaluating chain-of-thought quality]
    condition: sig_reasoning_trace_share >= 0.5 and n_events >= 200
    tests:
      positive: [{sig_reasoning_trace_share: 0.9, n_events: 500}]
      negative: [{sig_reasoning_trace_share: 0.1, n_events: 500}]

Conditions use the small language of :mod:`distillguard.detect.expr`. Every error names the
file and line (:class:`~distillguard.errors.RuleError`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from distillguard.detect.expr import ExprError, Node, evaluate, names, parse
from distillguard.detect.features import feature_names
from distillguard.detect.rules import BUILTIN_RULES_DIR
from distillguard.errors import RuleError

LEVELS: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 1.5, "critical": 2.0}
_ATLAS = re.compile(r"^(?:attack\.)?(AML\.[TM]\d{4}(?:\.\d{3})?|AML\.CS\d{4})$")
_REQUIRED = ("id", "title", "level", "condition")
_KNOWN = {*_REQUIRED, "tags", "falsepositives", "tests", "description", "author", "status"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One loaded rule."""

    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    falsepositives: tuple[str, ...]
    condition: str
    node: Node
    positive: tuple[Mapping[str, Any], ...]
    negative: tuple[Mapping[str, Any], ...]
    path: str
    line: int

    @property
    def atlas(self) -> tuple[str, ...]:
        """ATLAS technique ids among the tags."""
        out = []
        for tag in self.tags:
            m = _ATLAS.match(tag)
            if m:
                out.append(m.group(1))
        return tuple(out)

    @property
    def weight(self) -> float:
        """Contribution of the rule to an account's risk (log-odds)."""
        return LEVELS[self.level]

    def matches(self, features: Mapping[str, Any]) -> bool:
        """True when the condition holds on ``features``."""
        return bool(evaluate(self.node, features))


@dataclass(frozen=True, slots=True)
class RuleTestFailure:
    """One rule test case that did not give the expected answer."""

    rule_id: str
    kind: str
    index: int
    case: Mapping[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class RuleTestReport:
    """Result of running every rule's own test cases."""

    rules: int
    cases: int
    failures: tuple[RuleTestFailure, ...]

    @property
    def ok(self) -> bool:
        """True when every case passed."""
        return not self.failures


class _LineLoader(yaml.SafeLoader):
    """Safe loader that records the line of every mapping under the key ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _strip(case: Any) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k != "__line__"}


def _check_names(used: set[str], what: str, path: str, line: int) -> None:
    known = feature_names()
    unknown = sorted(used - known)
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise RuleError(
        f"{what} names unknown feature(s) {', '.join(hints)}; "
        "`distillguard rules features` lists the known ones",
        path=path,
        line=line,
    )


def _rule_from(data: Any, path: str) -> Rule:
    if not isinstance(data, dict):
        raise RuleError("a rule must be a mapping", path=path, line=1)
    line = int(data.get("__line__", 1))
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise RuleError(f"rule is missing {', '.join(missing)}", path=path, line=line)
    unknown = sorted(set(data) - _KNOWN - {"__line__"})
    if unknown:
        raise RuleError(f"unknown rule key(s) {', '.join(unknown)}", path=path, line=line)
    level = str(data["level"])
    if level not in LEVELS:
        raise RuleError(f"level {level!r} is not one of {', '.join(LEVELS)}", path=path, line=line)
    tags = tuple(str(t) for t in data.get("tags") or ())
    condition = str(data["condition"])
    try:
        node = parse(condition)
    except ExprError as exc:
        raise RuleError(f"condition {exc}", path=path, line=line) from None
    # A misspelt feature would read as null for every account: the rule could never fire,
    # and its own test cases (which spell it the same way) would still pass.
    _check_names(names(node), "condition", path, line)
    tests = data.get("tests") or {}
    if not isinstance(tests, dict):
        raise RuleError("tests must be a mapping with positive/negative", path=path, line=line)
    cases: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for kind in ("positive", "negative"):
        raw = tests.get(kind) or []
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            raise RuleError(f"tests.{kind} must be a list of mappings", path=path, line=line)
        cases[kind] = tuple(_strip(c) for c in raw)
        for case in cases[kind]:
            _check_names(set(case), f"tests.{kind} case", path, line)
    rule = Rule(
        id=str(data["id"]),
        title=str(data["title"]),
        level=level,
        tags=tags,
        falsepositives=tuple(str(f) for f in data.get("falsepositives") or ()),
        condition=condition,
        node=node,
        positive=cases["positive"],
        negative=cases["negative"],
        path=path,
        line=line,
    )
    if not rule.atlas:
        raise RuleError(f"rule {rule.id!r} has no MITRE ATLAS tag", path=path, line=line)
    return rule


def load_rule_file(path: Path) -> list[Rule]:
    """Load the rule (or list of rules) in one YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise RuleError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise RuleError(f"invalid YAML: {exc}", path=str(path), line=line) from None
    items = data if isinstance(data, list) else [data]
    return [_rule_from(item, str(path)) for item in items]


def load_rules(dirs: Iterable[Path] = (), *, builtin: bool = True) -> list[Rule]:
    """Load the built-in rules (unless ``builtin=False``) and every ``*.yaml`` in ``dirs``.

    Raises:
        RuleError: a bad file, naming file and line; also on a duplicate rule id.
    """
    folders = ([BUILTIN_RULES_DIR] if builtin else []) + [Path(d) for d in dirs]
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            raise RuleError("rules directory not found", path=str(folder))
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            for rule in load_rule_file(path):
                if rule.id in seen:
                    raise RuleError(
                        f"duplicate rule id {rule.id!r} (first in {seen[rule.id]})",
                        path=rule.path,
                        line=rule.line,
                    )
                seen[rule.id] = f"{rule.path}:{rule.line}"
                rules.append(rule)
    return rules


def test_rules(rules: Sequence[Rule]) -> RuleTestReport:
    """Run every rule's positive (must match) and negative (must not) cases."""
    failures: list[RuleTestFailure] = []
    cases = 0
    for rule in rules:
        for kind, expected in (("positive", True), ("negative", False)):
            for i, case in enumerate(rule.positive if expected else rule.negative):
                cases += 1
                if rule.matches(case) is not expected:
                    failures.append(
                        RuleTestFailure(rule.id, kind, i, case, f"{rule.path}:{rule.line}")
                    )
    return RuleTestReport(rules=len(rules), cases=cases, failures=tuple(failures))


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def fired(rules: Sequence[Rule], features: Mapping[str, Any]) -> list[Rule]:
    """Rules whose condition holds on ``features``."""
    return [r for r in rules if r.matches(features)]
