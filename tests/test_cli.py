from __future__ import annotations

import click
import pytest

from distillguard import cli


@click.command()
@click.option("--code", type=int, default=0)
def _exits(code: int) -> None:
    click.get_current_context().exit(code)


@click.command()
def _fails() -> None:
    from distillguard.errors import InputError

    raise InputError("nothing readable in x.jsonl")


@pytest.fixture()
def fake_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "exits", f"{__name__}:_exits")
    monkeypatch.setitem(cli.COMMANDS, "fails", f"{__name__}:_fails")


def test_exit_code_of_a_command_is_returned(fake_commands: None) -> None:
    assert cli.main(["exits", "--code", "1"]) == 1
    assert cli.main(["exits"]) == 0


def test_our_errors_become_a_message_and_exit_2(
    fake_commands: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["fails"]) == 2
    assert "error: nothing readable in x.jsonl" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    assert cli.main(["no-such-command"]) == 2


def test_every_registered_command_loads_and_has_help() -> None:
    group = cli.cli
    ctx = click.Context(group)
    for name in cli.COMMANDS:
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        assert cmd.help, f"{name} has no help text"
        assert name in cli.SHORT_HELP, f"{name} has no short help"


def test_python_dash_m_runs_the_same_cli() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "distillguard", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "no-such-command" in proc.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "distillguard", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "scan" in ok.stdout
