"""The admin CLI: every command works as documented, and every command is documented."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from schemas.identity import Role
from server.cli import main
from server.config import GatewayConfig
from server.gateway.app import create_app, open_state
from server.policy import admin

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


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there
HUB_ENROL = ["hub", "enrol", "--upstream", UNREACHABLE, "--officer", "sho-kotwali"]


def _said(text: str) -> str:
    return " ".join(text.split())


def _assert_unreachable_hub_message(text: str) -> None:
    said = _said(text)
    assert said.startswith("Error: Could not reach the district gateway at http://127.0.0.1:9")
    assert "Check the --upstream address, this PC's network connection, and that the" in said
    assert "central server is running" in said
    assert "Traceback" not in text


def test_hub_enrol_at_an_unreachable_district_says_what_to_check(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    result = CliRunner().invoke(
        main, [*HUB_ENROL, "--data", str(data), "--password", "demo-pass-123"]
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    _assert_unreachable_hub_message(result.output)
    assert not (data / "hub.json").exists()


def test_hub_enrol_at_an_unreachable_district_prints_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", *HUB_ENROL, "--data", str(tmp_path / "hub"),
         "--password", "demo-pass-123"],
        capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2], check=False,
    )
    assert result.returncode == 1, result.stderr
    _assert_unreachable_hub_message(result.stderr)
    assert "Traceback" not in result.stdout


async def test_hub_enrol_after_too_many_wrong_passwords_says_how_long_to_wait(
    tmp_path: Path, aiohttp_server: Any
) -> None:
    data = tmp_path / "district"
    await _provision_station_officer(data)
    gateway = await aiohttp_server(create_app(GatewayConfig(data_dir=data)))
    upstream = str(gateway.make_url("")).rstrip("/")

    def enrol(password: str) -> Any:
        args = ["hub", "enrol", "--upstream", upstream, "--officer", "sho-kotwali"]
        return CliRunner().invoke(
            main, [*args, "--data", str(tmp_path / "hub"), "--password", password]
        )

    for _ in range(GatewayConfig().login_limits.officer_at_address.free):
        assert "incorrect" in (await asyncio.to_thread(enrol, "wrong-pass-123")).output
    waiting = await asyncio.to_thread(enrol, "demo-pass-123")
    assert waiting.exit_code == 1
    assert re.search(r"try again in [1-9][0-9]* seconds", _said(waiting.output)), waiting.output
    assert not (tmp_path / "hub" / "hub.json").exists()


async def _provision_station_officer(data: Path) -> None:
    state = await open_state(GatewayConfig(data_dir=data))
    try:
        await state.add_station("kotwali", "Kotwali police station")
        await admin.add_officer(
            state, "sho-kotwali", "SHO", Role.STATION_OFFICER, "demo-pass-123",
            station_id="kotwali",
        )
    finally:
        await state.close()
