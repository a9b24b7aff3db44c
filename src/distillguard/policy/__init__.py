"""Policy: decisions that map risk to graduated actions, applied by the gateway at request time.

Public API::

    make_decision(kind, id, "throttle+strip", params={"rpm": 10}, reason=..., created_by=...)
    DecisionTable(publisher, log).put(decision, actor=...) / .revoke(...) / .active()
    resolve([account_decision, org_decision]) -> Enforcement
    apply_scan(results_dir, table, PolicyConfig(), actor=...) -> ApplyScanResult
"""

from __future__ import annotations

from distillguard.policy.enforce import (
    ALLOW,
    REFUSALS,
    Enforcement,
    LimitOverride,
    Refusal,
    resolve,
)
from distillguard.policy.model import (
    ACTIONS,
    SUBJECT_KINDS,
    Decision,
    decision_from_json,
    decision_to_json,
    make_decision,
    parse_actions,
)
from distillguard.policy.scan import ApplyScanResult, PolicyConfig, apply_scan
from distillguard.policy.table import (
    DecisionLog,
    DecisionPublisher,
    DecisionTable,
    MemoryLog,
    MemoryPublisher,
    PutResult,
    RedisPublisher,
    StoreDecisionLog,
)

__all__ = [
    "ACTIONS",
    "ALLOW",
    "REFUSALS",
    "SUBJECT_KINDS",
    "ApplyScanResult",
    "Decision",
    "DecisionLog",
    "DecisionPublisher",
    "DecisionTable",
    "Enforcement",
    "LimitOverride",
    "MemoryLog",
    "MemoryPublisher",
    "PolicyConfig",
    "PutResult",
    "RedisPublisher",
    "Refusal",
    "StoreDecisionLog",
    "apply_scan",
    "decision_from_json",
    "decision_to_json",
    "make_decision",
    "parse_actions",
    "resolve",
]
