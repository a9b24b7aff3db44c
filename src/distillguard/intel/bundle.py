"""Reading untrusted STIX 2.1 bundles safely: caps first, then object-by-object checks.

Whole-bundle problems (too large, not JSON, nested too deep, not a bundle, too many objects)
raise :class:`BundleRejected` with a reason. Problems of single objects (wrong spec version,
unknown type, bad id, duplicated id, bad pattern, bad timestamp) reject only that object and
are listed in the :class:`BundleCheck` report, so a peer's bundle imports partially rather
than not at all. Nothing here raises anything else on any input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from distillguard.errors import InputError
from distillguard.intel.patterns import PatternSyntaxError, UnsupportedPattern, parse
from distillguard.intel.stix import (
    FINGERPRINT_TYPE,
    IDENTIFIER_TYPE,
    is_stix_id,
    parse_timestamp,
)

SDO_TYPES = frozenset(
    [
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    ]
)
SRO_TYPES = frozenset({"relationship", "sighting"})
SCO_TYPES = frozenset(
    [
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    ]
) | {IDENTIFIER_TYPE, FINGERPRINT_TYPE}
META_TYPES = frozenset({"marking-definition", "language-content", "extension-definition"})
KNOWN_TYPES = SDO_TYPES | SRO_TYPES | SCO_TYPES | META_TYPES


class BundleRejected(InputError):
    """The whole bundle is refused; ``reason`` says why."""

    def __init__(self, reason: str, *, source: str = "") -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {reason}" if source else reason)


@dataclass(frozen=True, slots=True)
class Issue:
    """One object-level problem: ``severity`` is ``rejected`` or ``warning``."""

    index: int
    object_id: str
    severity: str
    reason: str


@dataclass(frozen=True, slots=True)
class BundleCheck:
    """The accepted objects of a bundle and what was refused or flagged."""

    bundle_id: str
    objects: tuple[dict[str, Any], ...]
    issues: tuple[Issue, ...] = field(default=())

    @property
    def rejected(self) -> int:
        """Objects refused."""
        return sum(1 for i in self.issues if i.severity == "rejected")


def _depth_ok(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def load_json(data: bytes, *, max_bytes: int, max_depth: int, source: str = "") -> Any:
    """Decode untrusted JSON under a size and nesting cap.

    Raises:
        BundleRejected: too large, too deep, or not JSON.
    """
    if len(data) > max_bytes:
        raise BundleRejected(f"{len(data)} bytes is over the {max_bytes}-byte limit", source=source)
    try:
        value = msgspec.json.decode(data)
    except RecursionError:
        raise BundleRejected(f"JSON nested deeper than {max_depth} levels", source=source) from None
    except msgspec.DecodeError as exc:
        raise BundleRejected(f"not valid JSON: {exc}", source=source) from None
    if not _depth_ok(value, max_depth):
        raise BundleRejected(f"JSON nested deeper than {max_depth} levels", source=source)
    return value


def _has_new_type_extension(obj: dict[str, Any]) -> bool:
    exts = obj.get("extensions")
    return isinstance(exts, dict) and any(
        isinstance(v, dict) and str(v.get("extension_type", "")).startswith("new-")
        for k, v in exts.items()
        if isinstance(k, str) and k.startswith("extension-definition--")
    )


def _check_object(obj: Any) -> tuple[str | None, list[str]]:
    """(reason to reject or None, warnings) for one object."""
    if not isinstance(obj, dict):
        return "not an object", []
    t, oid = obj.get("type"), obj.get("id")
    if not isinstance(t, str) or not t:
        return "missing type", []
    if not is_stix_id(oid, t):
        return f"id {str(oid)[:80]!r} is not '{t}--<uuid>'", []
    if t not in KNOWN_TYPES and not _has_new_type_extension(obj):
        return f"unknown type {t!r} (no extension-definition declares it)", []
    sv = obj.get("spec_version")
    if t in SCO_TYPES:
        if sv not in (None, "2.1"):
            return f"spec_version {sv!r} is not 2.1", []
    elif sv != "2.1":
        return f"spec_version {sv!r} is not 2.1", []
    for prop in ("created", "modified", "valid_from", "valid_until", "first_seen", "last_seen"):
        if prop in obj:
            try:
                parse_timestamp(str(obj[prop]))
            except ValueError:
                return f"{prop} {str(obj[prop])[:40]!r} is not a timestamp", []
    if t not in SCO_TYPES and t != "marking-definition" and "created" not in obj:
        return "missing created", []
    warnings: list[str] = []
    if t == "indicator":
        pattern, ptype = obj.get("pattern"), obj.get("pattern_type")
        if not isinstance(pattern, str) or not isinstance(ptype, str):
            return "indicator without pattern or pattern_type", []
        if "valid_from" not in obj:
            return "indicator without valid_from", []
        if ptype != "stix":
            warnings.append(f"pattern_type {ptype!r} is stored but not matched")
        else:
            try:
                parse(pattern)
            except UnsupportedPattern as exc:
                warnings.append(f"pattern stored but not matched: {exc}")
            except PatternSyntaxError as exc:
                return f"bad pattern: {exc}", []
    return None, warnings


def check_bundle(
    data: bytes | dict[str, Any],
    *,
    max_bytes: int = 50_000_000,
    max_objects: int = 100_000,
    max_depth: int = 32,
    source: str = "",
) -> BundleCheck:
    """Check an untrusted bundle (raw bytes, or an already decoded dict from a trusted cap).

    Raises:
        BundleRejected: the bundle as a whole is unusable.
    """
    if isinstance(data, bytes | bytearray):
        raw = load_json(bytes(data), max_bytes=max_bytes, max_depth=max_depth, source=source)
    else:
        raw = data
        if not _depth_ok(raw, max_depth):
            raise BundleRejected(f"JSON nested deeper than {max_depth} levels", source=source)
    if not isinstance(raw, dict) or raw.get("type") != "bundle":
        raise BundleRejected("not a STIX bundle (type must be 'bundle')", source=source)
    if not is_stix_id(raw.get("id"), "bundle"):
        raise BundleRejected("bundle id is not 'bundle--<uuid>'", source=source)
    if "spec_version" in raw:
        raise BundleRejected(
            f"bundle has spec_version {raw['spec_version']!r}: STIX 2.0 bundles are not "
            "accepted (2.1 bundles carry spec_version on objects)",
            source=source,
        )
    objects = raw.get("objects", [])
    if not isinstance(objects, list):
        raise BundleRejected("objects must be a list", source=source)
    if len(objects) > max_objects:
        raise BundleRejected(
            f"{len(objects)} objects is over the {max_objects}-object limit", source=source
        )
    kept, issues = check_objects(objects)
    return BundleCheck(bundle_id=str(raw["id"]), objects=tuple(kept), issues=tuple(issues))


def check_objects(objects: list[Any]) -> tuple[list[dict[str, Any]], list[Issue]]:
    """Check each object of a bundle or TAXII envelope: (accepted objects, issues)."""
    kept: list[dict[str, Any]] = []
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for i, obj in enumerate(objects):
        reason, warnings = _check_object(obj)
        oid = str(obj.get("id", ""))[:120] if isinstance(obj, dict) else ""
        if reason is None:
            version = (oid, str(obj.get("modified", obj.get("created", ""))))
            if version in seen:
                reason = "duplicate id (same id and modified as an earlier object)"
            seen.add(version)
        if reason is not None:
            issues.append(Issue(i, oid, "rejected", reason))
            continue
        issues.extend(Issue(i, oid, "warning", w) for w in warnings)
        kept.append(obj)
    return kept, issues
