"""Optional policy actions from intel hits, only through rules the operator wrote.

Intel hits are detection signals. They become policy decisions (rows in the store's
``decisions`` table, with an ``audit_log`` line each) only when a rules file says so; with no
rules file nothing is ever throttled or blocked because a peer said so. A rules file::

    rules:
      - name: throttle-shared-payment
        kinds: [payment, account]     # any of these kinds must have hit (default: any)
        min_score: 0.8                # intel_account_signals.score at least this
        min_producers: 1              # distinct producers that hit the account
        action: rate_limit            # one of ACTIONS
        params: {requests_per_minute: 10}
        expires_hours: 72
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from distillguard.errors import ConfigError
from distillguard.store import DuckDBStore

ACTIONS = frozenset(
    {
        "flag",
        "rate_limit",
        "token_limit",
        "strip_logprobs",
        "strengthen_watermark",
        "plant_canaries",
        "require_verification",
        "suspend",
    }
)


@dataclass(frozen=True, slots=True)
class IntelRule:
    """One rule turning intel signals into a policy decision."""

    name: str
    action: str
    kinds: tuple[str, ...] = ()
    min_score: float = 0.0
    min_producers: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    expires_hours: float = 72.0


def load_rules(path: str | Path) -> list[IntelRule]:
    """Read a rules file.

    Raises:
        ConfigError: unreadable file or an invalid rule (naming its index).
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read intel rules: {exc}") from None
    items = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{p}: expected a 'rules' list")
    rules = []
    for i, item in enumerate(items):
        where = f"{p}: rules[{i}]"
        if not isinstance(item, dict) or not item.get("name") or not item.get("action"):
            raise ConfigError(f"{where}: a rule needs a name and an action")
        if item["action"] not in ACTIONS:
            raise ConfigError(
                f"{where}: unknown action {item['action']!r}; known: {sorted(ACTIONS)}"
            )
        try:
            rules.append(
                IntelRule(
                    name=str(item["name"]),
                    action=str(item["action"]),
                    kinds=tuple(str(k) for k in item.get("kinds", ())),
                    min_score=float(item.get("min_score", 0.0)),
                    min_producers=int(item.get("min_producers", 1)),
                    params=dict(item.get("params", {}) or {}),
                    expires_hours=float(item.get("expires_hours", 72.0)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return rules


def apply_rules(store: DuckDBStore, rules: list[IntelRule], *, now: datetime | None = None) -> int:
    """Write a decision (and an audit line) per account a rule selects; returns how many."""
    now = now or datetime.now(UTC)
    signals = store.sql("SELECT * FROM intel_account_signals ORDER BY account_id").to_pylist()
    made = 0
    for rule in rules:
        for s in signals:
            kinds = set((s["kinds"] or "").split(","))
            if rule.kinds and not kinds & set(rule.kinds):
                continue
            if s["score"] < rule.min_score or s["producers"] < rule.min_producers:
                continue
            reason = (
                f"intel rule {rule.name}: {s['indicators']} shared indicator(s) "
                f"({s['kinds']}) from {s['producers']} producer(s), score {s['score']:.2f}"
            )
            store.execute(
                "INSERT INTO decisions VALUES (?, 'account', ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    str(uuid.uuid4()),
                    s["account_id"],
                    rule.action,
                    json.dumps(rule.params),
                    reason,
                    f"intel-rule:{rule.name}",
                    now,
                    now + timedelta(hours=rule.expires_hours),
                ],
            )
            store.execute(
                "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
                [now, f"intel-rule:{rule.name}", rule.action, s["account_id"], reason],
            )
            made += 1
    return made
