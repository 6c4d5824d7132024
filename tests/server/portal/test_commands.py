"""The admin sets up the portal with the CLI; the portal reads what was set."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from server.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_localities_and_hours_from_the_cli(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path)]
    run("station", "add", "kotwali", "--name", "Kotwali", *data)
    run("beat", "add", "kotwali", "kotwali-bazaar", "--name", "Bazaar", *data)
    run(
        "officer",
        "add",
        "sho-k",
        "--name",
        "SHO",
        "--role",
        "station_officer",
        "--station",
        "kotwali",
        "--password",
        "long-password-1",
        *data,
    )
    run(
        "portal", "locality-add", "Chowk", "--station", "kotwali", "--beat", "kotwali-bazaar", *data
    )
    assert "Chowk\tkotwali\tkotwali-bazaar" in run("portal", "locality-list", *data)
    run(
        "portal",
        "hours",
        "sho-k",
        "--station",
        "kotwali",
        "--with",
        "sho",
        "--day",
        "mon=10:00-12:00",
        "--day",
        "mon=15:00-16:00",
        *data,
    )
    run("portal", "holiday", "sho-k", "2026-01-26", *data)
    listed = run("portal", "hours-list", *data)
    assert "mon=10:00-12:00+15:00-16:00" in listed
    assert "2026-01-26" in listed
    run("portal", "locality-remove", "Chowk", *data)
    assert "Chowk" not in run("portal", "locality-list", *data)


def test_mistakes_are_refused_with_a_message(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path)]
    run("station", "add", "kotwali", "--name", "Kotwali", *data)
    result = CliRunner().invoke(
        main, ["portal", "locality-add", "X", "--station", "kotwali", "--beat", "nowhere", *data]
    )
    assert result.exit_code != 0
    assert "no beat nowhere" in result.output
    result = CliRunner().invoke(
        main, ["portal", "hours", "ghost", "--station", "kotwali", "--with", "sho", *data]
    )
    assert "no officer 'ghost'" in result.output
