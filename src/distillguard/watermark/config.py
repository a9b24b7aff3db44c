"""The ``[watermark]`` configuration section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.config import load_section
from distillguard.errors import ConfigError


@dataclass(frozen=True)
class WatermarkConfig:
    """Watermark settings (``[watermark]`` in the config file, ``DISTILLGUARD_WATERMARK_*``).

    Attributes:
        enabled: apply the lexical watermark to responses in the gateway.
        master_secret_file: file holding the hex master secret (``watermark keygen --out``).
        cohorts: stable cohort buckets accounts are hashed into.
        gamma: green fraction for token-level schemes.
        delta: logit bias for token-level schemes.
        context_width: KGW window ``h``.
        seeding: ``left`` or ``self``.
        alpha: family-wise level for detection across keys.
        canary_ledger: append-only JSONL file recording planted canaries (no secrets), so
            audits can rebuild them after a restart; unset keeps them in memory only.
    """

    enabled: bool = False
    master_secret_file: Path | None = None
    cohorts: int = 64
    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1
    seeding: str = "left"
    alpha: float = 1e-3
    canary_ledger: Path | None = None

    def __post_init__(self) -> None:
        if self.enabled and self.master_secret_file is None:
            raise ConfigError("[watermark] enabled = true needs master_secret_file")
        if self.cohorts < 1:
            raise ConfigError(f"[watermark] cohorts must be >= 1, got {self.cohorts}")


def load_config(file_data: dict[str, Any] | None = None) -> WatermarkConfig:
    """Load ``[watermark]`` from the configuration file and environment."""
    return load_section("watermark", WatermarkConfig, file_data=file_data)
