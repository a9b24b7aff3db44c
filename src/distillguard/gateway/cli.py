"""Commands: ``serve``, ``upstream``, ``keys``, ``sink``."""

from __future__ import annotations

import math
import multiprocessing
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import click

from distillguard.config import load_section
from distillguard.errors import GatewayError
from distillguard.gateway.config import GatewayConfig, load_gateway_config
from distillguard.store.base import StoreConfig


def _config(path: str | None, overrides: dict[str, Any] | None = None) -> GatewayConfig:
    if path:
        os.environ["DISTILLGUARD_CONFIG"] = path
    return load_gateway_config(overrides=overrides)


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True),
    help="TOML configuration file (else $DISTILLGUARD_CONFIG).",
)
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [8080].")
@click.option("--workers", type=int, default=None, help="Worker processes [1].")
@click.option("--upstream", default=None, help="Upstream base URL (overrides the config).")
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    upstream: str | None,
) -> None:
    """Run the gateway: an OpenAI-compatible proxy with keys, limits, policy and capture.

    \b
    Examples:
      export DISTILLGUARD_GATEWAY_KEY_SECRET=$(openssl rand -hex 32)
      distillguard upstream --port 8081 &
      distillguard serve --port 8080 --workers 4 --upstream http://127.0.0.1:8081
    """
    import uvicorn

    over = {"host": host, "port": port, "workers": workers, "upstream_url": upstream}
    for key, value in over.items():  # workers read their config from the environment
        if value is not None:
            os.environ[f"DISTILLGUARD_GATEWAY_{key.upper()}"] = str(value)
    cfg = _config(config_path)
    cfg.require_secret()
    sink = None
    stop_file = Path(tempfile.gettempdir()) / f"dg-sink-stop-{os.getpid()}"
    stop_file.unlink(missing_ok=True)
    if cfg.sink:
        from distillguard.gateway.sink import run_sink_process

        store = load_section("store", StoreConfig)
        ctx = multiprocessing.get_context("spawn")
        sink = ctx.Process(
            target=run_sink_process,
            name="dg-sink",
            args=(
                str(cfg.spool_dir),
                str(store.db),
                store.keep_text,
                cfg.sink_interval_s,
                str(stop_file),
                cfg.sink_nice,
            ),
        )
        sink.start()
    click.echo(
        f"distillguard gateway on http://{cfg.host}:{cfg.port} -> {cfg.upstream_url} "
        f"({cfg.workers} worker(s), spool {cfg.spool_dir})",
        err=True,
    )
    try:
        uvicorn.run(
            "distillguard.gateway.server:create_app",
            factory=True,
            host=cfg.host,
            port=cfg.port,
            workers=cfg.workers if cfg.workers > 1 else None,
            loop=_loop(),
            http="httptools",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=math.ceil(cfg.keep_alive_s),
            timeout_graceful_shutdown=10,
        )
    finally:
        if sink is not None:
            stop_file.touch()
            sink.join(timeout=30)
            stop_file.unlink(missing_ok=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8081, show_default=True)
@click.option(
    "--latency-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Wait before answering (before the first token when streaming).",
)
@click.option(
    "--token-interval-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Wait between streamed tokens.",
)
@click.option(
    "--tokens",
    type=int,
    default=16,
    show_default=True,
    help="Answer length when the request sets no max_tokens.",
)
def upstream(
    host: str, port: int, latency_ms: float, token_interval_ms: float, tokens: int
) -> None:
    """Run the stand-in upstream (deterministic text, no model) for tests and demos.

    \b
    Example:
      distillguard upstream --port 8081 --latency-ms 20 --token-interval-ms 5
    """
    import uvicorn

    from distillguard.gateway.standin import StandinConfig, create_standin

    app = create_standin(
        StandinConfig(latency_ms=latency_ms, token_interval_ms=token_interval_ms, tokens=tokens)
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop=_loop(),
        http="httptools",
        log_level="warning",
        access_log=False,
    )


class _Admin:
    """Key admin for the CLI: Redis plus a journal segment in the spool."""

    def __init__(self, config_path: str | None) -> None:
        import redis

        from distillguard.gateway.control import SpoolKeyJournal
        from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend
        from distillguard.gateway.spool import SpoolWriter

        cfg = _config(config_path)
        self.client = redis.Redis.from_url(
            cfg.redis_url, socket_timeout=5, socket_connect_timeout=5
        )
        self.spool = SpoolWriter(cfg.spool_dir, f"cli-{socket.gethostname()}-{os.getpid()}")
        self.admin = KeyAdmin(
            RedisKeyBackend(self.client), cfg.require_secret(), SpoolKeyJournal(self.spool)
        )

    def close(self) -> None:
        self.spool.close()
        self.client.close()


@click.group()
def keys() -> None:
    """Create, rotate, revoke and list API keys (stored as keyed hashes in Redis)."""


def _actor() -> str:
    return "cli:" + (os.environ.get("USER") or "unknown")


@keys.command("create")
@click.option("--account", required=True, help="Account the key belongs to.")
@click.option("--org", default="", help="Organisation of the account.")
@click.option("--name", default="", help="A label for the key.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True))
def keys_create(account: str, org: str, name: str, config_path: str | None) -> None:
    """Issue a key; the key is printed once and stored nowhere."""
    a = _Admin(config_path)
    try:
        issued = a.admin.create(account, org_id=org, name=name, actor=_actor())
    finally:
        a.close()
    click.echo(f"key_id {issued.record.key_id}  account {account}  org {org or '-'}", err=True)
    click.echo(issued.raw_key)


@keys.command("rotate")
@click.argument("key_id")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True))
def keys_rotate(key_id: str, config_path: str | None) -> None:
    """Issue a new key for the same account and revoke KEY_ID."""
    a = _Admin(config_path)
    try:
        issued = a.admin.rotate(key_id, actor=_actor())
    finally:
        a.close()
    click.echo(f"key_id {issued.record.key_id} replaces {key_id}", err=True)
    click.echo(issued.raw_key)


@keys.command("revoke")
@click.argument("key_id")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True))
def keys_revoke(key_id: str, config_path: str | None) -> None:
    """Revoke KEY_ID (replicas refuse it within policy_refresh_s)."""
    a = _Admin(config_path)
    try:
        a.admin.revoke(key_id, actor=_actor())
    finally:
        a.close()
    click.echo(f"revoked {key_id}")


@keys.command("list")
@click.option("--account", default=None, help="Only this account's keys.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True))
def keys_list(account: str | None, config_path: str | None) -> None:
    """List keys (ids and owners, never the keys)."""
    a = _Admin(config_path)
    try:
        recs = a.admin.list(account)
    finally:
        a.close()
    click.echo("key_id        account  org  name  revoked")
    for r in recs:
        click.echo(
            f"{r.key_id}  {r.account_id}  {r.org_id or '-'}  {r.name or '-'}  "
            f"{'yes' if r.revoked_at else 'no'}"
        )


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True))
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="DuckDB store file.")
@click.option("--once", is_flag=True, help="Load what is sealed now and exit.")
def sink(config_path: str | None, db: str | None, once: bool) -> None:
    """Load spooled gateway events and control records into the store (the single writer)."""
    import threading

    from distillguard.gateway.sink import SpoolLoader, lower_priority
    from distillguard.store import DuckDBStore

    cfg = _config(config_path)
    store = load_section("store", StoreConfig)
    path = db or str(store.db)
    loader = SpoolLoader(cfg.spool_dir, lambda: DuckDBStore(path), keep_text=store.keep_text)
    if once:
        res = loader.run_once()
        loader.close()
        click.echo(
            f"segments {res.segments}  events {res.events}  inserted {res.inserted}  "
            f"duplicates {res.duplicates}  controls {res.controls}  "
            f"quarantined {res.quarantined}"
        )
        if res.error:
            raise GatewayError(f"store unavailable: {res.error}")
        return
    lower_priority(cfg.sink_nice)  # a long-running loader yields the CPU to the workers
    stop = threading.Event()
    try:
        loader.run(stop, cfg.sink_interval_s)
    except KeyboardInterrupt:
        stop.set()
        loader.close()
