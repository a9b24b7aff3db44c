"""``[gateway]`` configuration (see docs/configuration.md for every key with an example)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.config import load_section
from distillguard.errors import ConfigError

FAILURE_MODES: tuple[str, ...] = ("open", "closed")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """``[gateway]`` section. Limits of 0 mean "no limit". Times are seconds unless named _ms.

    Attributes:
        host: address to listen on.
        port: port to listen on.
        workers: worker processes started by ``distillguard serve``.
        keep_alive_s: how long the server keeps an idle client connection open. Longer than
            the idle timeout of client pools and load balancers (60 s on common ones), so the
            server is never the side that closes a connection a client is about to reuse (a
            request written into that close is lost to a client that does not retry).
        upstream_url: base URL of the OpenAI-compatible upstream (without ``/v1``).
        upstream_api_key: bearer sent to the upstream (never logged).
        models: models served; empty = ask the upstream's ``/v1/models`` at start.
        body_max_bytes: largest request body accepted (413 above).
        connect_timeout_s: connecting to the upstream.
        read_timeout_s: longest wait for the next bytes from the upstream.
        request_timeout_s: longest non-streaming upstream exchange.
        body_timeout_s: longest wait for the client's request body.
        redis_url: Redis shared by the replicas (keys, limits, decisions).
        redis_timeout_s: timeout of one Redis operation.
        redis_failure: ``open`` (serve with local limits and cached keys and decisions) or
            ``closed`` (503).
        key_secret: server secret of the keyed hash of API keys (set it in the environment).
        admin_token: bearer credential of the admin API; empty disables the admin API.
        spool_dir: directory of the event spool (one sub-directory per replica).
        commit_window_ms: group-commit window of the spool (the most a hard kill can lose).
        segment_max_bytes: spool segment size before it is sealed for loading.
        segment_max_age_s: age of a spool segment before it is sealed for loading.
        spool_failure: ``open`` (serve, count lost events) or ``closed`` (503) when the spool fails.
        capture_text: keep prompt and response text in the spool (the store decides what it keeps).
        key_rpm: requests per minute per API key.
        key_tpm: tokens per minute per API key.
        key_concurrency: requests in flight per API key.
        account_rpm: requests per minute per account.
        account_tpm: tokens per minute per account.
        account_concurrency: requests in flight per account.
        org_rpm: requests per minute per org.
        org_tpm: tokens per minute per org.
        org_concurrency: requests in flight per org.
        local_limit_divisor: while Redis is down, each replica enforces limit / divisor.
        concurrency_lease_s: an in-flight slot of a crashed replica frees itself after this.
        policy_refresh_s: how often replicas poll the decision and key versions.
        signals: compute ``distillguard.detect.signals`` inline when that package is installed.
        replica_id: spool sub-directory name; default ``<hostname>-<pid>``.
        sink: ``distillguard serve`` also runs the spool loader (the single store writer).
        sink_interval_s: how often the loader looks for sealed segments.
        sink_nice: niceness added to the loader process and its DuckDB threads (0 to keep
            the gateway's): loading is background work, so on a shared host its bursts
            of parsing and inserting yield the CPU to the request path.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    keep_alive_s: float = 75.0
    upstream_url: str = "http://127.0.0.1:8081"
    upstream_api_key: str = ""
    models: tuple[str, ...] = ()
    body_max_bytes: int = 4 * 1024 * 1024
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 60.0
    request_timeout_s: float = 300.0
    body_timeout_s: float = 10.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = 1.0
    redis_failure: str = "open"
    key_secret: str = ""
    admin_token: str = ""
    spool_dir: Path = Path("distillguard-spool")
    commit_window_ms: float = 50.0
    segment_max_bytes: int = 8 * 1024 * 1024
    segment_max_age_s: float = 1.0
    spool_failure: str = "open"
    capture_text: bool = True
    key_rpm: int = 0
    key_tpm: int = 0
    key_concurrency: int = 0
    account_rpm: int = 0
    account_tpm: int = 0
    account_concurrency: int = 0
    org_rpm: int = 0
    org_tpm: int = 0
    org_concurrency: int = 0
    local_limit_divisor: int = 1
    concurrency_lease_s: float = 600.0
    policy_refresh_s: float = 0.5
    signals: bool = False
    replica_id: str = ""
    sink: bool = True
    sink_interval_s: float = 0.5
    sink_nice: int = 10

    def __post_init__(self) -> None:
        for name in ("redis_failure", "spool_failure"):
            if getattr(self, name) not in FAILURE_MODES:
                raise ConfigError(
                    f"[gateway] {name}: expected one of {', '.join(FAILURE_MODES)}, "
                    f"got {getattr(self, name)!r}"
                )
        if not 0 < self.keep_alive_s <= 3600:
            raise ConfigError("[gateway] keep_alive_s: must be in (0, 3600]")
        if self.body_max_bytes <= 0:
            raise ConfigError("[gateway] body_max_bytes: must be positive")
        if not 0 < self.commit_window_ms <= 1000:
            raise ConfigError("[gateway] commit_window_ms: must be in (0, 1000]")
        if self.local_limit_divisor < 1:
            raise ConfigError("[gateway] local_limit_divisor: must be at least 1")
        if not self.upstream_url.startswith(("http://", "https://")):
            raise ConfigError(f"[gateway] upstream_url: not an http(s) URL: {self.upstream_url!r}")

    def effective_replica_id(self) -> str:
        """``replica_id``, or ``<hostname>-<pid>`` when unset."""
        return self.replica_id or f"{socket.gethostname()}-{os.getpid()}"

    def require_secret(self) -> bytes:
        """The key secret as bytes.

        Raises:
            ConfigError: unset or shorter than 16 characters.
        """
        if len(self.key_secret) < 16:
            raise ConfigError(
                "[gateway] key_secret: set DISTILLGUARD_GATEWAY_KEY_SECRET to at least 16 "
                "random characters (it keys the hash of every API key)"
            )
        return self.key_secret.encode()


def load_gateway_config(
    file_data: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None
) -> GatewayConfig:
    """Load ``[gateway]`` from the configuration file, environment and ``overrides``."""
    return load_section("gateway", GatewayConfig, file_data=file_data, overrides=overrides)
