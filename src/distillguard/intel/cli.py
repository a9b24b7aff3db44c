"""``distillguard intel``: export, import, match, serve, pull, push, keygen, hash-password."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from distillguard.errors import ConfigError
from distillguard.intel.config import RAW_FIELDS, IntelConfig, load_intel_config
from distillguard.intel.keys import CommunityKey, generate_key_file, load_key
from distillguard.intel.stix import TLP_LEVELS

_KEY_OPT = click.option(
    "--community-key-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Community key file (default: [intel] community_key_file or "
    "$DISTILLGUARD_INTEL_COMMUNITY_KEY_FILE).",
)
_DB_OPT = click.option(
    "--db", type=click.Path(path_type=Path), required=True, help="The DuckDB store."
)


def _cfg(config_path: Path | None) -> IntelConfig:
    if config_path is not None:
        os.environ["DISTILLGUARD_CONFIG"] = str(config_path)
    return load_intel_config()


def _key(path: Path | None, cfg: IntelConfig, *, required: bool = True) -> CommunityKey | None:
    chosen = path or cfg.community_key_file
    try:
        return load_key(chosen)
    except ConfigError:
        if required or chosen is not None:
            raise
        return None


def _secret(env_name: str | None, what: str) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value


@click.group("intel")
def intel() -> None:
    """Share campaigns as STIX 2.1, import peers' indicators, serve TAXII 2.1.

    \b
    Examples:
      distillguard intel keygen community.key
      distillguard intel export scan-out --db dg.duckdb --out bundle.json --tlp green
      distillguard intel import peer-bundle.json --db dg.duckdb
      distillguard intel serve --config taxii.yaml --db taxii.duckdb --port 9500
      distillguard intel pull https://peer/intel/collections/ID/ --db dg.duckdb --user me \\
          --password-env PEER_PASSWORD
    """


@intel.command("keygen")
@click.argument("path", type=click.Path(path_type=Path))
def keygen(path: Path) -> None:
    """Create a new 32-byte community key file (mode 0600); share it out of band."""
    key = generate_key_file(path)
    click.echo(f"wrote {path} (key id {key.key_id})")


@intel.command("export")
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_DB_OPT
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle file to write.")
@click.option("--tlp", type=click.Choice(TLP_LEVELS), default=None, help="TLP 2.0 level.")
@_KEY_OPT
@click.option(
    "--include-raw",
    multiple=True,
    type=click.Choice(RAW_FIELDS),
    help="Export this stored field raw instead of keyed-hashed (repeatable; default none).",
)
@click.option("--campaign", "campaigns", multiple=True, help="Export only this campaign id.")
@click.option("--producer", default=None, help="Producer name (default [intel] producer_name).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
def export_cmd(
    results_dir: Path,
    db: Path,
    out: Path,
    tlp: str | None,
    community_key_file: Path | None,
    include_raw: tuple[str, ...],
    campaigns: tuple[str, ...],
    producer: str | None,
    config_path: Path | None,
) -> None:
    """Write a scan's campaigns as one STIX 2.1 bundle."""
    from distillguard.intel.export import export_bundle
    from distillguard.store import DuckDBStore

    cfg = _cfg(config_path)
    if producer:
        cfg = load_intel_config(producer_name=producer)
    key = _key(community_key_file, cfg)
    assert key is not None
    with DuckDBStore(db, read_only=True) as store:
        res = export_bundle(
            results_dir,
            store,
            key,
            cfg,
            tlp=tlp,
            include_raw=include_raw or None,
            campaign_ids=campaigns or None,
        )
    res.write(out)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(res.indicators.items()) if v)
    filtered = ", ".join(f"{k} {v}" for k, v in sorted(res.filtered.items()) if v)
    click.echo(
        f"wrote {out}: {res.campaigns} campaign(s), {len(res.bundle['objects'])} objects, "
        f"TLP:{res.tlp.upper()}, key id {key.key_id}"
    )
    click.echo(f"  indicator values: {kinds or 'none'}")
    click.echo(f"  not shared (also seen on legit accounts or too rare): {filtered or 'none'}")
    click.echo(
        f"  raw fields: {', '.join(res.raw_fields) or 'none (all identifiers keyed-hashed)'}"
    )


def _match_and_rules(
    store: object,
    key: CommunityKey | None,
    rules_file: Path | None,
    cfg: IntelConfig,
    until: datetime | None = None,
) -> None:
    from distillguard.intel.match import match_intel
    from distillguard.intel.rules import apply_rules, load_rules
    from distillguard.store import DuckDBStore

    assert isinstance(store, DuckDBStore)
    m = match_intel(store, key, until=until, min_template_prompts=cfg.min_template_prompts)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(m.by_kind.items()))
    click.echo(f"matched: {m.hits} hit(s) on {m.accounts} account(s) ({kinds or 'none'})")
    if m.other_key:
        click.echo(f"  {m.other_key} indicator value(s) use another community key: not matched")
    if m.templates_skipped_no_text:
        click.echo("  template fingerprints not matched: the store keeps no prompt text")
    if rules_file is not None:
        made = apply_rules(store, load_rules(rules_file))
        click.echo(f"rules {rules_file}: {made} decision(s) written")


@intel.command("import")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@_DB_OPT
@_KEY_OPT
@click.option("--no-match", is_flag=True, help="Only store the bundles; do not match.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Intel rules turning hits into policy decisions (default: none).",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
def import_cmd(
    bundles: tuple[Path, ...],
    db: Path,
    community_key_file: Path | None,
    no_match: bool,
    rules_file: Path | None,
    config_path: Path | None,
) -> None:
    """Import peers' STIX 2.1 bundles and match their indicators against local traffic."""
    from distillguard.intel.bundle import BundleRejected
    from distillguard.intel.importer import import_bundle
    from distillguard.store import DuckDBStore

    cfg = _cfg(config_path)
    key = _key(community_key_file, cfg, required=False)
    problems = 0
    with DuckDBStore(db) as store:
        for path in bundles:
            try:
                res = import_bundle(store, path.read_bytes(), source=str(path), cfg=cfg)
            except BundleRejected as exc:
                click.echo(f"{path}: refused: {exc.reason}", err=True)
                problems += 1
                continue
            note = " (already imported)" if res.duplicate_bundle else ""
            click.echo(
                f"{path}: {res.accepted}/{res.objects} objects from {res.producer}{note}; "
                f"{res.indicators} indicators, {res.values} matchable values, "
                f"{res.unmatched_indicators} not matchable, {res.rejected} rejected"
            )
            for issue in res.issues[:20]:
                click.echo(
                    f"  {issue.severity}: object {issue.index} {issue.object_id}: {issue.reason}",
                    err=True,
                )
            problems += res.rejected > 0
        if not no_match:
            _match_and_rules(store, key, rules_file or cfg.rules_file, cfg)
    if problems:
        raise click.exceptions.Exit(1)


@intel.command("match")
@_DB_OPT
@_KEY_OPT
@click.option("--rules", "rules_file", type=click.Path(path_type=Path, exists=True), default=None)
@click.option(
    "--until", default=None, help="Match only events at or before this time (RFC 3339, replay)."
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
def match_cmd(
    db: Path,
    community_key_file: Path | None,
    rules_file: Path | None,
    until: str | None,
    config_path: Path | None,
) -> None:
    """Re-match every imported indicator against the events (after new traffic)."""
    from distillguard.store import DuckDBStore

    cfg = _cfg(config_path)
    key = _key(community_key_file, cfg, required=False)
    when = None
    if until is not None:
        try:
            when = datetime.fromisoformat(until.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(
                f"{until!r} is not an RFC 3339 time", param_hint="--until"
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    with DuckDBStore(db) as store:
        _match_and_rules(store, key, rules_file or cfg.rules_file, cfg, when)


@intel.command("serve")
@click.option(
    "--config",
    "server_config",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="TAXII server YAML (collections, users, limits).",
)
@_DB_OPT
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9500, show_default=True, type=int)
def serve(server_config: Path, db: Path, host: str, port: int) -> None:
    """Run a TAXII 2.1 server (put TLS in front of it: a reverse proxy)."""
    import uvicorn

    from distillguard.intel.taxii.auth import load_server_config
    from distillguard.intel.taxii.server import TaxiiApp
    from distillguard.intel.taxii.storage import TaxiiStorage
    from distillguard.store import DuckDBStore

    cfg = load_server_config(server_config)
    with DuckDBStore(db) as store:
        app = TaxiiApp(cfg, TaxiiStorage(store)).app
        click.echo(
            f"TAXII 2.1 on http://{host}:{port}/taxii2/ ({len(cfg.collections)} collections)"
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")


_AUTH = [
    click.option("--user", default=None, help="HTTP basic user."),
    click.option("--password-env", default=None, help="Environment variable holding the password."),
    click.option("--token-env", default=None, help="Environment variable holding a bearer token."),
]


def _auth(f: click.decorators.FC) -> click.decorators.FC:
    for opt in reversed(_AUTH):
        f = opt(f)
    return f


@intel.command("pull")
@click.argument("collection_url")
@_DB_OPT
@_KEY_OPT
@_auth
@click.option("--added-after", default=None, help="Only objects added after this timestamp.")
@click.option("--no-match", is_flag=True)
def pull_cmd(
    collection_url: str,
    db: Path,
    community_key_file: Path | None,
    user: str | None,
    password_env: str | None,
    token_env: str | None,
    added_after: str | None,
    no_match: bool,
) -> None:
    """Pull a TAXII 2.1 collection into the store and match it."""
    from distillguard.intel.importer import import_bundle
    from distillguard.intel.taxii.client import pull
    from distillguard.store import DuckDBStore

    cfg = load_intel_config()
    res = pull(
        collection_url,
        user=user,
        password=_secret(password_env, "--password-env"),
        token=_secret(token_env, "--token-env"),
        added_after=added_after,
    )
    click.echo(f"pulled {res.objects} objects in {res.pages} page(s); last added {res.last_added}")
    key = _key(community_key_file, cfg, required=False)
    with DuckDBStore(db) as store:
        imp = import_bundle(store, json.dumps(res.bundle).encode(), source=collection_url, cfg=cfg)
        click.echo(
            f"imported {imp.accepted} objects, {imp.rejected} rejected, "
            f"{imp.values} matchable values"
        )
        if not no_match:
            _match_and_rules(store, key, cfg.rules_file, cfg)


@intel.command("push")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True))
@click.argument("collection_url")
@_auth
def push_cmd(
    bundle: Path,
    collection_url: str,
    user: str | None,
    password_env: str | None,
    token_env: str | None,
) -> None:
    """Push a bundle's objects to a TAXII 2.1 collection."""
    from distillguard.intel.taxii.client import push

    data = json.loads(bundle.read_text("utf-8"))
    res = push(
        collection_url,
        data,
        user=user,
        password=_secret(password_env, "--password-env"),
        token=_secret(token_env, "--token-env"),
    )
    click.echo(f"pushed: {res.success_count} accepted, {res.failure_count} failed")
    for f in res.status.get("failures", [])[:20]:
        click.echo(f"  {f.get('id')}: {f.get('message')}", err=True)
    if res.failure_count:
        raise click.exceptions.Exit(1)


@intel.command("hash-password")
@click.option("--token", is_flag=True, help="Hash a bearer token (SHA-256) instead.")
def hash_password_cmd(token: bool) -> None:
    """Hash a password (PBKDF2) or token for the TAXII server's users file."""
    from distillguard.intel.taxii.auth import hash_password, hash_token

    secret = click.prompt("token" if token else "password", hide_input=True)
    click.echo(hash_token(secret) if token else hash_password(secret))
