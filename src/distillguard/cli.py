"""The ``distillguard`` command line.

Each command lives next to the code it drives (``distillguard/<part>/cli.py``) and is listed
in :data:`COMMANDS`, an explicit registry; modules are imported only when their command runs,
so ``distillguard --help`` stays fast and a missing optional dependency breaks only its own
command.
"""

from __future__ import annotations

import importlib
import sys

import click

from distillguard import __version__
from distillguard.errors import DistillguardError

#: command name -> "module:attribute" of a click.Command. Add a line to add a command.
COMMANDS: dict[str, str] = {
    "ingest": "distillguard.ingest.cli:ingest",
    "stats": "distillguard.store.cli:stats",
    "simulate": "distillguard.sim.cli:simulate",
    "demo": "distillguard.demo:demo",
    "scan": "distillguard.detect.cli:scan",
    "eval": "distillguard.detect.cli:eval_cmd",
    "rules": "distillguard.detect.cli:rules",
    "serve": "distillguard.gateway.cli:serve",
    "upstream": "distillguard.gateway.cli:upstream",
    "keys": "distillguard.gateway.cli:keys",
    "sink": "distillguard.gateway.cli:sink",
    "policy": "distillguard.policy.cli:policy",
    "intel": "distillguard.intel.cli:intel",
    "watermark": "distillguard.watermark.cli:watermark",
    "audit": "distillguard.watermark.audit_cli:audit",
    "console": "distillguard.console.cli:console",
}

#: one-line help shown by ``distillguard --help`` without importing the command's module.
SHORT_HELP: dict[str, str] = {
    "ingest": "Read provider logs into the store, quarantining bad records.",
    "stats": "Show what is in the store: events, accounts, time span, models, templates.",
    "simulate": "Generate realistic traffic (legitimate personas and campaigns) with labels.",
    "demo": "Simulate a week of traffic with campaigns, scan it and summarise what was found.",
    "scan": "Find distillation campaigns in logs: accounts.csv, campaigns.json, report.html.",
    "eval": "Measure a scan against labels: precision, recall, FPR, B-cubed, time to detection.",
    "rules": "List detection rules and run their own tests.",
    "serve": "Run the gateway: OpenAI-compatible proxy with keys, limits, policy, capture.",
    "upstream": "Run the stand-in OpenAI-compatible upstream (deterministic text, no model).",
    "keys": "Create, rotate, revoke and list gateway API keys.",
    "sink": "Load the gateway's spooled events into the store (the single writer).",
    "policy": "Apply scan results and manage per-account/org decisions the gateway enforces.",
    "intel": "Share campaigns as STIX 2.1, match peers' indicators, serve/pull/push TAXII 2.1.",
    "watermark": "Keyed watermarks: make keys, mark text (gateway transform), test text.",
    "audit": "Test a suspect model (API or weights) for our watermark; writes an evidence report.",
    "console": "Serve the analyst console: campaign queue, evidence, reversible actions, audit.",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distillguard")
def cli() -> None:
    """distillguard: detect, throttle, prove and share model-distillation campaigns.

    \b
    Examples:
      distillguard demo --out demo-out
      distillguard simulate --seed 7 --days 7 --out sim/
      distillguard ingest sim/events.jsonl --db dg.duckdb
      distillguard stats --db dg.duckdb
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning our errors into a one-line message and exit code 2."""
    try:
        # In non-standalone mode click returns a command's exit code (ctx.exit(n)) instead of
        # raising; a command that returns normally gives its return value, which we ignore.
        rv = cli.main(args=argv, prog_name="distillguard", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except DistillguardError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
