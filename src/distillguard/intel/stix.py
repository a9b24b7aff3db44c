"""STIX 2.1 building blocks: ids, timestamps, TLP 2.0 markings and our extension definitions.

Objects are plain JSON dictionaries (what goes on the wire); the OASIS ``stix2`` and
``stix2-validator`` packages are used by the tests to check them, not needed at run time.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from distillguard.errors import ConfigError

SPEC_VERSION = "2.1"

#: Namespace for deterministic SCO ids (STIX 2.1, section 2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
#: Our own namespace for deterministic SDO ids (same input, same id: re-exports update).
DG_NAMESPACE = uuid.UUID("5d1b7c9e-3f0a-4e55-9a8e-6c2b1f0d7a31")

#: The official TLP 2.0 extension definition and marking definitions (OASIS
#: cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_MARKING_IDS: dict[str, str] = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_LEVELS: tuple[str, ...] = tuple(TLP2_MARKING_IDS)

#: The identity that defines distillguard's extensions (fixed, so peers recognise them).
DG_IDENTITY_ID = "identity--8d5e0f6a-2c41-4b7e-9f1a-3e6d2b8c4a10"
EXT_IDENTIFIER = "extension-definition--1f0c9a52-6b7e-4d3a-8e21-0a9b6c5d4e31"
EXT_FINGERPRINT = "extension-definition--2a7d4c81-9e3b-4f60-b1c5-7d8e9f0a1b42"
EXT_CAMPAIGN = "extension-definition--3b8e5d92-0f4c-4a71-82d6-8e9f0a1b2c53"
IDENTIFIER_TYPE = "x-distillguard-identifier"
FINGERPRINT_TYPE = "x-distillguard-template-fingerprint"

_EXT_CREATED = "2025-01-01T00:00:00.000Z"

_ID_RE = re.compile(
    r"^([a-z][a-z0-9-]{1,248}[a-z0-9])--"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def is_stix_id(value: object, type_: str | None = None) -> bool:
    """Whether ``value`` is ``type--uuid`` (of ``type_`` when given)."""
    if not isinstance(value, str):
        return False
    m = _ID_RE.match(value)
    return m is not None and (type_ is None or m.group(1) == type_)


def timestamp(dt: datetime) -> str:
    """STIX timestamp with milliseconds, UTC, ``Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse a STIX/RFC 3339 timestamp to an aware UTC datetime (ValueError if bad)."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return dt.astimezone(UTC)


def sdo_id(type_: str, *parts: str) -> str:
    """A deterministic id for an SDO/SRO made by this producer from ``parts``."""
    return f"{type_}--{uuid.uuid5(DG_NAMESPACE, '|'.join((type_, *parts)))}"


def sco_id(type_: str, contributing: dict[str, Any]) -> str:
    """A deterministic SCO id from its id-contributing properties (STIX 2.1, 2.9)."""
    canon = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{type_}--{uuid.uuid5(SCO_NAMESPACE, canon)}"


def tlp_marking(level: str) -> dict[str, Any]:
    """The official TLP 2.0 marking definition for ``level``.

    Raises:
        ConfigError: unknown level.
    """
    lvl = level.lower()
    if lvl not in TLP2_MARKING_IDS:
        raise ConfigError(f"unknown TLP level {level!r}; known: {', '.join(TLP_LEVELS)}")
    return {
        "type": "marking-definition",
        "spec_version": SPEC_VERSION,
        "id": TLP2_MARKING_IDS[lvl],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{lvl.upper()}",
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": lvl}},
    }


def tlp_of(marking_id: str) -> str | None:
    """The TLP level of an official TLP 2.0 marking id, or None."""
    for level, mid in TLP2_MARKING_IDS.items():
        if mid == marking_id:
            return level
    return None


def distillguard_identity() -> dict[str, Any]:
    """The identity that created distillguard's extension definitions."""
    return {
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": DG_IDENTITY_ID,
        "created": _EXT_CREATED,
        "modified": _EXT_CREATED,
        "name": "distillguard project",
        "identity_class": "organization",
        "description": "Defines the STIX extensions used by distillguard threat-intel exports.",
    }


def _ext(ext_id: str, name: str, description: str, types: list[str], schema: str) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": SPEC_VERSION,
        "id": ext_id,
        "created_by_ref": DG_IDENTITY_ID,
        "created": _EXT_CREATED,
        "modified": _EXT_CREATED,
        "name": name,
        "description": description,
        "schema": schema,
        "version": "1.0.0",
        "extension_types": types,
    }


def extension_definitions() -> list[dict[str, Any]]:
    """Our three extension definitions (two new SCOs and a campaign property extension)."""
    return [
        _ext(
            EXT_IDENTIFIER,
            IDENTIFIER_TYPE,
            "An identifier (ip, cidr, asn, user agent, account, payment, e-mail domain) as "
            "HMAC-SHA256 under a community key, or raw where the producer opted in.",
            ["new-sco"],
            "Properties: kind (string: ipv4, ipv6, cidr, asn, user_agent, account, payment, "
            "email_domain); hmac_sha256 (64 hex characters, HMAC-SHA256 of kind, a zero byte "
            "and the normalised value under the community key); key_id (16 hex characters); "
            "raw_value (string, only when the producer opted in). Id contributing properties: "
            "kind, hmac_sha256, raw_value. See distillguard docs/intel.md.",
        ),
        _ext(
            EXT_FINGERPRINT,
            FINGERPRINT_TYPE,
            "A prompt-template fingerprint: a keyed bottom-k sample of the word-bigram "
            "shingles of a campaign's prompt wrapper; matches paraphrases, reveals no text.",
            ["new-sco"],
            "Properties: algorithm (string, bottomk-blake2b64-word2-v1); key_id (16 hex); "
            "hashes (list of 16-hex keyed BLAKE2b-64 shingle hashes, the k smallest); "
            "digest (SHA-256 hex of the comma-joined hashes); threshold (number, containment "
            "to match); wrapper_size, prompts, accounts (integers). Id contributing property: "
            "digest. See distillguard docs/intel.md.",
        ),
        _ext(
            EXT_CAMPAIGN,
            "x-distillguard-campaign",
            "Detection facts about a distillation campaign: risk, volume, account count.",
            ["property-extension"],
            "Properties: risk (number 0-1); volume (integer, requests); account_count "
            "(integer); atlas_ids (list of MITRE ATLAS ids); evidence_kinds (list of "
            "strings naming the kinds of evidence, never raw values).",
        ),
    ]


def producer_identity(name: str, created: str) -> dict[str, Any]:
    """The identity of the organisation that produced a bundle."""
    return {
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": sdo_id("identity", "producer", name),
        "created": created,
        "modified": created,
        "name": name,
        "identity_class": "organization",
        "sectors": ["technology"],
    }


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle of ``objects`` with a fresh id."""
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def quote(value: str) -> str:
    """A STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
