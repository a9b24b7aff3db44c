"""The analyst console: a server-rendered web UI over a scan, the decision table and intel.

Public API::

    cfg = load_console_config(overrides={"state_db": "console.sqlite3"})
    console = build_console(cfg, "out/scan.duckdb")        # Redis decision table by default
    app = create_app(console)                               # a Starlette ASGI app
    apply_action(state, table, scan_id=..., target_kind="campaign", target_id="campaign-001",
                 accounts=[...], kind="suspend", params={}, reason="...", actor="analyst:x")
    undo_action(state, table, action_id, actor="analyst:x")
    export_labels(state, Path("labels.csv"))                # dispositions for `distillguard eval`
"""

from __future__ import annotations

from distillguard.console.actions import ACTION_SPECS, apply_action, undo_action
from distillguard.console.app import build_console, create_app
from distillguard.console.config import ConsoleConfig, load_console_config
from distillguard.console.data import ScanData
from distillguard.console.records import export_labels
from distillguard.console.state import ConsoleState
from distillguard.console.summaries import open_scan
from distillguard.console.web import Console

__all__ = [
    "ACTION_SPECS",
    "Console",
    "ConsoleConfig",
    "ConsoleState",
    "ScanData",
    "apply_action",
    "build_console",
    "create_app",
    "export_labels",
    "load_console_config",
    "open_scan",
    "undo_action",
]
