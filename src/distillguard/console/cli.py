"""``distillguard console``: serve the analyst console; manage its users; export labels."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from distillguard.console.config import ConsoleConfig, load_console_config
from distillguard.console.state import ConsoleState
from distillguard.errors import InputError

PASSWORD_ENV = "DISTILLGUARD_CONSOLE_PASSWORD"  # noqa: S105 - a variable name

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True),
    help="TOML configuration file (else $DISTILLGUARD_CONFIG).",
)
_STATE = click.option(
    "--state",
    "state_db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Console state file (users, audit log) [[console] state_db].",
)


def _cfg(config_path: str | None, **over: Any) -> ConsoleConfig:
    if config_path:
        os.environ["DISTILLGUARD_CONFIG"] = config_path
    return load_console_config(config_path, overrides=over)


@click.group(invoke_without_command=True)
@click.option("--db", "db", type=click.Path(dir_okay=False), help="The scan's DuckDB file.")
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default=None,
    help="The scan's --out folder (campaigns.json, accounts.csv) [folder of --db].",
)
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [8090].")
@click.option(
    "--audits", type=click.Path(file_okay=False), default=None, help="Audit reports folder."
)
@click.option(
    "--show-prompts", is_flag=True, default=None, help="Show prompt text (else redacted)."
)
@_STATE
@_CONFIG
@click.pass_context
def console(
    ctx: click.Context,
    db: str | None,
    results: str | None,
    host: str | None,
    port: int | None,
    audits: str | None,
    show_prompts: bool | None,
    state_db: str | None,
    config_path: str | None,
) -> None:
    """Serve the analyst console over a scan: campaign queue, evidence, actions, audit log.

    Refuses to start until a user exists (there is no default password).

    \b
    Examples:
      distillguard console user add alice --role admin
      distillguard console --db out/scan.duckdb --port 8090
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["state_db"] = state_db
    if ctx.invoked_subcommand is not None:
        return
    if not db:
        raise click.UsageError("--db SCAN_DB is required to serve the console")
    import uvicorn

    from distillguard.console.app import build_console, create_app

    cfg = _cfg(
        config_path,
        host=host,
        port=port,
        state_db=state_db,
        audit_dir=audits,
        show_prompts=show_prompts,
    )
    c = build_console(cfg, db, results)
    t = c.data.timings.get("total", 0.0)
    click.echo(
        f"distillguard console on http://{cfg.host}:{cfg.port} — scan {c.data.scan_id}, "
        f"{len(c.data.campaigns)} campaigns, summaries built in {t:.1f} s, "
        f"{c.state.count_users()} user(s)",
        err=True,
    )
    try:
        uvicorn.run(create_app(c), host=cfg.host, port=cfg.port, log_level="warning")
    finally:
        c.data.close()
        c.state.close()


@console.group()
def user() -> None:
    """Manage console users (viewer, analyst, admin)."""


def _state(ctx: click.Context) -> ConsoleState:
    cfg = _cfg(ctx.obj.get("config_path"), state_db=ctx.obj.get("state_db"))
    return ConsoleState(cfg.state_path)


def _password(password_file: str | None) -> str:
    if password_file:
        try:
            return Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"{password_file}: cannot read password: {exc.strerror}") from None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise InputError(
            f"no password: give --password-file, set {PASSWORD_ENV}, or run in a terminal"
        )
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"Read the password from this file (else ${PASSWORD_ENV}, else prompt).",
)
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password_file: str | None) -> None:
    """Add a user; the password is prompted for (or read from a file or the environment)."""
    st = _state(ctx)
    try:
        st.add_user(name, role, _password(password_file), actor=f"cli:{_whoami()}")
    finally:
        st.close()
    click.echo(f"added {name} ({role}) to {st.path}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-file", type=click.Path(dir_okay=False), default=None)
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password_file: str | None) -> None:
    """Change a user's password (ends their sessions)."""
    st = _state(ctx)
    try:
        st.update_user(name, password=_password(password_file), actor=f"cli:{_whoami()}")
    finally:
        st.close()
    click.echo(f"password of {name} changed")


@user.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), default=None)
@click.option("--disable/--enable", "disabled", default=None)
@click.pass_context
def user_set(ctx: click.Context, name: str, role: str | None, disabled: bool | None) -> None:
    """Change a user's role, or disable/enable them (ends their sessions)."""
    st = _state(ctx)
    try:
        u = st.update_user(name, role=role, disabled=disabled, actor=f"cli:{_whoami()}")
    finally:
        st.close()
    click.echo(f"{u.name}: {u.role}{' (disabled)' if u.disabled else ''}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users."""
    st = _state(ctx)
    try:
        for u in st.users():
            click.echo(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'enabled'}")
    finally:
        st.close()


@console.command("labels")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
@click.pass_context
def labels(ctx: click.Context, out: str) -> None:
    """Export analysts' true/false-positive markings as a labels file for ``distillguard eval``."""
    from distillguard.console.records import export_labels

    st = _state(ctx)
    try:
        res = export_labels(st, Path(out))
    finally:
        st.close()
    click.echo(f"{res.accounts} accounts ({res.positives} in confirmed campaigns) -> {res.path}")


@console.command("verify-audit")
@click.pass_context
def verify_audit(ctx: click.Context) -> None:
    """Check the audit log's hash chain; exits 1 when an entry was altered."""
    st = _state(ctx)
    try:
        chk = st.verify_audit()
    finally:
        st.close()
    if chk.ok:
        click.echo(f"audit log intact: {chk.entries} entries")
        return
    click.echo(f"audit log BROKEN at entry {chk.first_bad_seq}", err=True)
    raise SystemExit(1)


def _whoami() -> str:
    return os.environ.get("USER") or "unknown"
