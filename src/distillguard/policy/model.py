"""Decisions: what the gateway does to one account or organisation, why, and until when.

A decision names a subject (``account`` or ``org``), one or more actions from
:data:`ACTIONS` joined with ``+`` (``"throttle+strip"``), their parameters, a reason, who made
it and when it expires. The gateway combines the account's and the org's decision into one
:class:`distillguard.policy.enforce.Enforcement` per request.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec

from distillguard.errors import InputError

#: action -> what it does. Order is the order of strictness shown to users.
ACTIONS: dict[str, str] = {
    "allow": "vetted subject: scan-driven actions are not applied to it",
    "throttle": "tighter limits: params rpm, tpm, concurrency",
    "strip": "remove logprobs from requests and raw reasoning from responses",
    "cap_max_tokens": "clamp max_tokens: param max_tokens",
    "watermark": "switch on or strengthen the output watermark: params transform, strength",
    "canary": "plant a canary through the response-transform seam: param transform",
    "require_verification": "refuse with code 'verification_required' until verified",
    "block": "refuse every request with code 'account_blocked'",
}

SUBJECT_KINDS: tuple[str, ...] = ("account", "org")

#: parameter -> (actions that read it, type)
_PARAMS: dict[str, tuple[frozenset[str], type]] = {
    "rpm": (frozenset({"throttle"}), int),
    "tpm": (frozenset({"throttle"}), int),
    "concurrency": (frozenset({"throttle"}), int),
    "max_tokens": (frozenset({"cap_max_tokens"}), int),
    "strength": (frozenset({"watermark"}), float),
    "transform": (frozenset({"watermark", "canary"}), str),
    "canary_transform": (frozenset({"canary"}), str),
}


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the decision table.

    Attributes:
        decision_id: unique id (``d_`` + 16 hex).
        subject_kind: ``account`` or ``org``.
        subject_id: the account or org id.
        actions: actions from :data:`ACTIONS`, applied together.
        params: parameters of the actions (see :data:`ACTIONS`).
        reason: why, in words (shown in the event's ``decision`` field and the audit log).
        created_by: ``scan:<dir>``, ``analyst:<name>``, ``admin-api`` ...
        created_at: epoch seconds.
        expires_at: epoch seconds, or None for no expiry.
    """

    decision_id: str
    subject_kind: str
    subject_id: str
    actions: tuple[str, ...]
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    reason: str = ""
    created_by: str = ""
    created_at: float = 0.0
    expires_at: float | None = None

    def active(self, now: float) -> bool:
        """True when the decision has not expired at ``now`` (epoch seconds)."""
        return self.expires_at is None or now < self.expires_at

    @property
    def subject(self) -> str:
        """``kind:id``, the key used in Redis and the audit log."""
        return f"{self.subject_kind}:{self.subject_id}"


def parse_actions(actions: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Split ``"throttle+strip"`` (or a list) into known actions, in a stable order.

    Raises:
        InputError: an unknown action, or ``allow`` combined with another action.
    """
    items = actions.split("+") if isinstance(actions, str) else list(actions)
    names = [a.strip() for a in items if a.strip()]
    if not names:
        raise InputError("no action given; known actions: " + ", ".join(ACTIONS))
    for name in names:
        if name not in ACTIONS:
            raise InputError(f"unknown action {name!r}; known actions: {', '.join(ACTIONS)}")
    if "allow" in names and len(names) > 1:
        raise InputError("'allow' cannot be combined with other actions")
    order = list(ACTIONS)
    return tuple(sorted(set(names), key=order.index))


def check_params(actions: tuple[str, ...], params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` against ``actions`` and return them with the right types.

    Raises:
        InputError: an unknown parameter, one no chosen action reads, or a bad value.
    """
    out: dict[str, Any] = {}
    for key, value in params.items():
        spec = _PARAMS.get(key)
        if spec is None:
            raise InputError(f"unknown decision parameter {key!r}; known: {', '.join(_PARAMS)}")
        readers, typ = spec
        if not readers & set(actions):
            raise InputError(
                f"parameter {key!r} is read only by {', '.join(sorted(readers))}, "
                f"which is not among the actions {'+'.join(actions)}"
            )
        try:
            cast = typ(value)
        except (TypeError, ValueError):
            raise InputError(f"parameter {key!r}: expected {typ.__name__}, got {value!r}") from None
        if isinstance(cast, int | float) and not isinstance(cast, bool) and cast < 0:
            raise InputError(f"parameter {key!r} must not be negative, got {value!r}")
        out[key] = cast
    if "cap_max_tokens" in actions and "max_tokens" not in out:
        raise InputError("action cap_max_tokens needs the parameter max_tokens")
    return out


def make_decision(
    subject_kind: str,
    subject_id: str,
    actions: str | tuple[str, ...] | list[str],
    *,
    params: dict[str, Any] | None = None,
    reason: str = "",
    created_by: str = "",
    ttl_s: float | None = None,
    now: float | None = None,
) -> Decision:
    """Build and validate a new decision.

    Raises:
        InputError: unknown subject kind, empty subject id, bad actions or parameters.
    """
    if subject_kind not in SUBJECT_KINDS:
        raise InputError(
            f"subject kind must be one of {', '.join(SUBJECT_KINDS)}, got {subject_kind!r}"
        )
    if not subject_id or not subject_id.strip():
        raise InputError("subject id must not be empty")
    acts = parse_actions(actions)
    checked = check_params(acts, dict(params or {}))
    t = time.time() if now is None else now
    if ttl_s is not None and ttl_s <= 0:
        raise InputError(f"ttl must be positive, got {ttl_s}")
    return Decision(
        decision_id="d_" + secrets.token_hex(8),
        subject_kind=subject_kind,
        subject_id=subject_id.strip(),
        actions=acts,
        params=checked,
        reason=reason,
        created_by=created_by,
        created_at=t,
        expires_at=(t + ttl_s) if ttl_s is not None else None,
    )


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(Decision)


def decision_to_json(decision: Decision) -> bytes:
    """Encode a decision as JSON."""
    return _enc.encode(decision)


def decision_from_json(data: bytes | str) -> Decision:
    """Decode a decision from JSON.

    Raises:
        InputError: the JSON is not a decision.
    """
    try:
        return _dec.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a decision: {exc}") from None
