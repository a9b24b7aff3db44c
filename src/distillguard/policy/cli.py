"""``distillguard policy ...``: apply scan results, set, revoke and list decisions."""

from __future__ import annotations

import os
import socket
from typing import Any

import click

from distillguard.config import load_section
from distillguard.errors import InputError
from distillguard.policy.model import make_decision
from distillguard.policy.scan import PolicyConfig, apply_scan
from distillguard.policy.table import DecisionTable


class _Table:
    """The live decision table (Redis) with its durable log shipped through the spool."""

    def __init__(self, config_path: str | None) -> None:
        import redis

        from distillguard.gateway.control import SpoolDecisionLog
        from distillguard.gateway.spool import SpoolWriter
        from distillguard.policy.table import RedisPublisher

        if config_path:
            os.environ["DISTILLGUARD_CONFIG"] = config_path
        from distillguard.gateway.config import load_gateway_config

        cfg = load_gateway_config()
        self.client = redis.Redis.from_url(
            cfg.redis_url, socket_timeout=5, socket_connect_timeout=5
        )
        self.spool = SpoolWriter(cfg.spool_dir, f"cli-{socket.gethostname()}-{os.getpid()}")
        self.table = DecisionTable(RedisPublisher(self.client), SpoolDecisionLog(self.spool))

    def close(self) -> None:
        self.spool.close()
        self.client.close()


def _actor(by: str | None) -> str:
    return by or "analyst:" + (os.environ.get("USER") or "unknown")


@click.group()
def policy() -> None:
    """Decisions the gateway applies per account or org (written by scans and analysts)."""


_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True),
    help="TOML configuration file (else $DISTILLGUARD_CONFIG).",
)


@policy.command("apply-scan")
@click.argument("results_dir", type=click.Path(file_okay=False, exists=True))
@_CONFIG
def apply_scan_cmd(results_dir: str, config_path: str | None) -> None:
    """Map RESULTS_DIR/accounts.csv verdicts to decisions ([policy] verdict_actions).

    \b
    Example:
      distillguard scan events.jsonl --out results/
      distillguard policy apply-scan results/
    """
    if config_path:
        os.environ["DISTILLGUARD_CONFIG"] = config_path
    pcfg = load_section("policy", PolicyConfig)
    t = _Table(config_path)
    try:
        res = apply_scan(results_dir, t.table, pcfg, actor="cli:apply-scan")
    finally:
        t.close()
    click.echo(
        f"rows {res.rows}  applied {res.applied}  unchanged {res.unchanged}  "
        f"withdrawn {res.withdrawn}  kept (analyst/allow) {res.kept_analyst}  "
        f"below min_risk {res.below_risk}"
    )


def _params(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--param {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


@policy.command("set")
@click.argument("kind", type=click.Choice(["account", "org"]))
@click.argument("subject_id")
@click.argument("actions")
@click.option("--param", "params", multiple=True, help="KEY=VALUE, e.g. rpm=10 (repeatable).")
@click.option("--reason", required=True, help="Why (kept in the audit log and in events).")
@click.option("--ttl-hours", type=float, default=None, help="Expire after this many hours.")
@click.option("--by", default=None, help="Who decides [analyst:$USER].")
@_CONFIG
def set_cmd(
    kind: str,
    subject_id: str,
    actions: str,
    params: tuple[str, ...],
    reason: str,
    ttl_hours: float | None,
    by: str | None,
    config_path: str | None,
) -> None:
    """Set the decision of an account or org, e.g. ``set account a1 throttle --param rpm=10``."""
    actor = _actor(by)
    d = make_decision(
        kind,
        subject_id,
        actions,
        params=_params(params),
        reason=reason,
        created_by=actor,
        ttl_s=ttl_hours * 3600 if ttl_hours else None,
    )
    t = _Table(config_path)
    try:
        res = t.table.put(d, actor=actor)
    finally:
        t.close()
    replaced = f" (replaces {res.replaced.decision_id})" if res.replaced else ""
    click.echo(f"{d.decision_id} {d.subject} {'+'.join(d.actions)}{replaced}")


@policy.command("revoke")
@click.argument("kind", type=click.Choice(["account", "org"]))
@click.argument("subject_id")
@click.option("--reason", required=True)
@click.option("--by", default=None)
@_CONFIG
def revoke_cmd(
    kind: str, subject_id: str, reason: str, by: str | None, config_path: str | None
) -> None:
    """Withdraw the current decision of an account or org."""
    t = _Table(config_path)
    try:
        d = t.table.revoke(kind, subject_id, actor=_actor(by), reason=reason)
    finally:
        t.close()
    if d is None:
        raise InputError(f"no current decision for {kind}:{subject_id}")
    click.echo(f"revoked {d.decision_id} {d.subject}")


@policy.command("list")
@_CONFIG
def list_cmd(config_path: str | None) -> None:
    """List the current decisions."""
    t = _Table(config_path)
    try:
        ds = t.table.active()
    finally:
        t.close()
    for d in ds:
        click.echo(f"{d.subject}\t{'+'.join(d.actions)}\t{d.params}\t{d.created_by}\t{d.reason}")
