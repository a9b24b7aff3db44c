"""The ``[console]`` configuration section (see docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from distillguard.config import load_section, read_file
from distillguard.errors import ConfigError

COOKIE_MODES: tuple[str, ...] = ("auto", "always", "never")


def default_state_db() -> Path:
    """Where users, sessions, statuses and the audit log live unless configured."""
    return Path(platformdirs.user_data_dir("distillguard")) / "console.sqlite3"


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """``[console]`` section.

    Attributes:
        host: address to listen on.
        port: port to listen on.
        state_db: SQLite file of users, sessions, campaign statuses, dispositions, actions and
            the append-only audit log (default: the user data directory).
        redis_url: Redis holding the gateway's decision table; empty = ``[gateway] redis_url``.
        show_prompts: show example prompt text (otherwise redacted to length and digest).
        session_hours: a login lasts this long.
        cookie_secure: ``auto`` (Secure when the request came over https), ``always``, ``never``.
        audit_dir: folder of watermark audit reports (``*.json`` from ``distillguard audit``).
        ship_to_spool: also ship every decision to the gateway spool ([gateway] spool_dir), so
            the store's ``decisions`` and ``audit_log`` tables get them through the sink.
        decision_ttl_days: default expiry of analyst decisions (0 = none; allow-lists always
            ask for an expiry).
        page_size: rows per page of long lists.
        graph_max_nodes: campaigns larger than this are drawn as aggregated sub-clusters.
        graph_max_edges: at most this many edges (strongest first) are sent to the browser.
        login_max_failures: failed logins per name and address within 15 minutes before
            further attempts are refused.
        summary_cache: keep the summary tables (and graph layouts) in a DuckDB file per
            scan, so a restart over the same scan does not rebuild them.
        cache_dir: folder of those files (default: the user cache directory).
    """

    host: str = "127.0.0.1"
    port: int = 8090
    state_db: Path | None = None
    redis_url: str = ""
    show_prompts: bool = False
    session_hours: float = 12.0
    cookie_secure: str = "auto"
    audit_dir: Path | None = None
    ship_to_spool: bool = False
    decision_ttl_days: float = 0.0
    page_size: int = 50
    graph_max_nodes: int = 5000
    graph_max_edges: int = 10000
    login_max_failures: int = 5
    summary_cache: bool = True
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.cookie_secure not in COOKIE_MODES:
            raise ConfigError(
                f"[console] cookie_secure: expected one of {', '.join(COOKIE_MODES)}, "
                f"got {self.cookie_secure!r}"
            )
        if self.session_hours <= 0:
            raise ConfigError("[console] session_hours: must be positive")
        if not 1 <= self.page_size <= 1000:
            raise ConfigError("[console] page_size: must be in [1, 1000]")
        if self.graph_max_nodes < 10:
            raise ConfigError("[console] graph_max_nodes: must be at least 10")

    @property
    def summary_dir(self) -> Path:
        """The summary cache folder (configured or default)."""
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(platformdirs.user_cache_dir("distillguard")) / "console"

    @property
    def state_path(self) -> Path:
        """The state database path (configured or default)."""
        return self.state_db if self.state_db is not None else default_state_db()


def load_console_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> ConsoleConfig:
    """Load ``[console]`` from ``path`` (or ``$DISTILLGUARD_CONFIG``), environment, overrides.

    Raises:
        ConfigError: unknown key or bad value, naming ``[console]`` and the key.
    """
    return load_section("console", ConsoleConfig, file_data=read_file(path), overrides=overrides)
