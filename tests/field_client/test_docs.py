"""The field client's README documents every CLI command, option and setting."""

from __future__ import annotations

import re
from pathlib import Path

import click

from field_client import cli as cli_module
from field_client.cli import cli

README = (Path(cli_module.__file__).parent / "README.md").read_text(encoding="utf-8")


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


def test_every_command_and_option_is_documented() -> None:
    undocumented = []
    for path, command in _commands(cli):
        if f"beatsync {' '.join(path)}" not in README:
            undocumented.append(" ".join(path))
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                if flag != "--help" and not re.search(re.escape(flag) + r"\b", README):
                    undocumented.append(f"{' '.join(path)} {flag}")
    for param in cli.params:
        if isinstance(param, click.Option) and max(param.opts, key=len) not in README:
            undocumented.append(max(param.opts, key=len))
    assert undocumented == []


def test_every_environment_variable_is_documented() -> None:
    source = "".join(
        path.read_text(encoding="utf-8")
        for path in Path(cli_module.__file__).parent.glob("cli*.py")
    )
    names = set(re.findall(r'"(BEATSYNC_[A-Z_]+)"', source))
    assert names >= {"BEATSYNC_PASSPHRASE", "BEATSYNC_HOME"}
    assert sorted(n for n in names if n not in README) == []


def test_exit_codes_are_documented() -> None:
    for code, meaning in (
        (cli_module.EXIT_OFFLINE, "no network"),
        (cli_module.EXIT_REVOKED, "revoked"),
    ):
        assert re.search(rf"\b{code} [^;]*{meaning}", README.replace("\n", " "))
