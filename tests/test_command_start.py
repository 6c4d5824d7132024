"""A command's start loads only what it needs: ``--help`` no web stack, no stores.

``beatsync --help`` took half a second, most of it importing aiohttp and the
replica that the help never uses. The commands import those when they run;
this guard runs each CLI's help in a fresh interpreter and lists what it
loaded. (``python3 -m bench.command_start`` prints the start times.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What a command loads when it syncs, serves, stores or renders pages.
HEAVY = (
    "aiohttp",
    "aiosqlite",
    "jinja2",
    "jsonschema",
    # (field_client.forms is not here: the questions the CLI asks are its forms'
    # fields, and since validators compile on first use it loads in ~0.1 s.)
    "field_client.replica",
    "server.gateway.app",
    "server.state.sqlite",
)

_PROBE = """
import json, sys
from {module} import {group} as cli
try:
    cli.main({args!r}, prog_name="probe", standalone_mode=False)
except SystemExit:
    pass
{extra}
print(json.dumps(sorted(sys.modules)))
"""


def loaded(module: str, args: list[str], extra: str = "") -> set[str]:
    """The modules a fresh interpreter holds after ``module``'s CLI ran ``args``."""
    group = "main" if module == "server.cli" else "cli"  # each CLI's click group
    code = _PROBE.format(module=module, group=group, args=args, extra=extra)
    answer = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return set(json.loads(answer.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("field_client.cli", ["--help"]),
        ("field_client.cli", ["complaint", "new", "--help"]),
        ("field_client.cli", ["sync", "--help"]),
        ("field_client.cli", ["ui", "--help"]),
        ("server.cli", ["--help"]),
        ("server.cli", ["serve", "--help"]),
        ("server.cli", ["officer", "add", "--help"]),
    ],
)
def test_help_loads_no_web_stack_and_no_store(module: str, args: list[str]) -> None:
    modules = loaded(module, args)
    assert f"{module}" in modules  # the probe did import the CLI
    assert not {name for name in HEAVY if name in modules}


def test_the_probe_sees_a_heavy_import() -> None:
    # The same probe, with a command's real work: what it loads is listed.
    modules = loaded("field_client.cli", ["--help"], extra="import field_client.replica")
    assert {"aiohttp", "aiosqlite", "field_client.replica"} <= modules
