"""``[intel]`` configuration section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillguard.config import load_section
from distillguard.errors import ConfigError
from distillguard.intel.stix import TLP_LEVELS

#: Stored columns that an operator may opt in to export raw (never by default).
RAW_FIELDS: tuple[str, ...] = (
    "client_ip",
    "client_asn",
    "client_user_agent",
    "account_id",
    "account_payment_fingerprint",
    "account_email_domain",
)


@dataclass(frozen=True, slots=True)
class IntelConfig:
    """``[intel]`` section.

    Attributes:
        producer_name: the organisation name put in exported bundles' identity.
        community_key_file: file holding the community key (32+ bytes, hex or raw).
        tlp: default TLP 2.0 level of exports (clear, green, amber, amber+strict, red).
        include_raw: stored columns exported raw (see :data:`RAW_FIELDS`); empty = none.
        min_campaign_accounts: an infrastructure value (IP, /24, ASN, user agent, e-mail
            domain) is exported only when this many campaign accounts used it.
        max_legit_accounts: ... and at most this many accounts the scan judged legit.
        max_legit_prompt_share: a template fingerprint matching more than this share of the
            exporter's own legit prompts is not exported.
        valid_days: indicators' ``valid_until`` is the export time plus this many days.
        max_bundle_bytes: imports and TAXII posts larger than this are refused.
        max_objects: bundles with more objects than this are refused.
        max_depth: JSON nesting deeper than this is refused.
        rules_file: YAML file of rules that turn intel hits into policy decisions; empty =
            hits are detection signals only (never an automatic action).
        min_template_prompts: matching: an account needs this many prompts matching a peer's
            template fingerprint for a template hit.
        infra_cap: scan: the combined weight of infrastructure hits (IP, /24, ASN, user
            agent, e-mail domain) is capped at this (shared exits make them weak evidence).
        member_min_score: scan: accounts whose intel evidence reaches this join the peer
            campaign's group (infrastructure alone never does while below ``infra_cap``).
        group_min_accounts: scan: a peer group outside every local campaign becomes a
            campaign of its own from this many accounts.
    """

    producer_name: str = "distillguard user"
    community_key_file: Path | None = None
    tlp: str = "amber"
    include_raw: tuple[str, ...] = ()
    min_campaign_accounts: int = 2
    max_legit_accounts: int = 0
    max_legit_prompt_share: float = 0.01
    valid_days: int = 90
    max_bundle_bytes: int = 50_000_000
    max_objects: int = 100_000
    max_depth: int = 32
    rules_file: Path | None = None
    min_template_prompts: int = 1
    infra_cap: float = 0.4
    member_min_score: float = 0.6
    group_min_accounts: int = 2

    def __post_init__(self) -> None:
        if self.tlp.lower() not in TLP_LEVELS:
            raise ConfigError(f"[intel] tlp: {self.tlp!r} is not one of {', '.join(TLP_LEVELS)}")
        for name in ("infra_cap", "member_min_score"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"[intel] {name}: {v} is not in [0, 1]")
        if self.min_template_prompts < 1 or self.group_min_accounts < 1:
            raise ConfigError("[intel] min_template_prompts and group_min_accounts must be >= 1")
        bad = [f for f in self.include_raw if f not in RAW_FIELDS]
        if bad:
            raise ConfigError(
                f"[intel] include_raw: unknown field(s) {', '.join(bad)}; "
                f"known: {', '.join(RAW_FIELDS)}"
            )


def load_intel_config(**overrides: object) -> IntelConfig:
    """The ``[intel]`` section from the configuration file and environment."""
    return load_section("intel", IntelConfig, overrides=dict(overrides))
