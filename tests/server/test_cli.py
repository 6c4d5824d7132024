"""The admin CLI: every command works as documented, and every command is documented."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from server.cli import main

README = resources.files("server").joinpath("README.md").read_text()


def _commands(group: click.Group, prefix: str = "beatsync-server") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


COMMANDS = _commands(main)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_and_has_help(command: str) -> None:
    assert f"`{command}" in README, f"{command} is missing from server/README.md"
    result = CliRunner().invoke(main, [*command.split()[1:], "--help"])
    assert result.exit_code == 0
    assert result.output.count("\n") > 3  # usage, a description, options


def test_a_desk_officer_sets_up_a_station(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(main, [*args, *data], input=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    run("station", "add", "kotwali", "--name", "Kotwali PS")
    run("beat", "add", "kotwali", "bazaar", "--name", "Bazaar")
    # The password is prompted for, hidden, with confirmation.
    run(
        "officer",
        "add",
        "bo-1",
        "--name",
        "Asha",
        "--role",
        "beat_officer",
        "--station",
        "kotwali",
        "--beat",
        "bazaar",
        stdin="s3cret-pass\ns3cret-pass\n",
    )
    run(
        "officer",
        "add",
        "so-1",
        "--name",
        "Vikram",
        "--role",
        "station_officer",
        "--station",
        "kotwali",
        "--password",
        "another-pass",
    )
    assert "kotwali" in run("station", "list")
    assert "bazaar" in run("beat", "list", "--station", "kotwali")
    listing = run("officer", "list")
    assert "bo-1" in listing
    assert "so-1" in listing
    run("officer", "reset-password", "bo-1", "--password", "newer-pass-1")
    run("officer", "revoke", "so-1", "--yes")
    assert "REVOKED" in run("officer", "list")
    run("station", "policy", "kotwali", "--beat-scoped")
    assert "yes" in run("station", "list")
    run("district", "unsigned-writes", "refuse")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["station", "add", "Bad Id", "--name", "x"], "station id"),
        (["beat", "add", "nowhere", "beat-x", "--name", "x"], "no station"),
        (
            [
                "officer",
                "add",
                "x1",
                "--name",
                "x",
                "--role",
                "beat_officer",
                "--password",
                "long-enough",
            ],
            "station",
        ),
        (
            ["officer", "add", "x2", "--name", "x", "--role", "admin", "--password", "short"],
            "at least",
        ),
        (["device", "revoke", "dev-none", "--yes"], "no device"),
    ],
)
def test_mistakes_get_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*args, "--data", str(tmp_path / "data")])
    assert result.exit_code != 0
    assert message in result.output
