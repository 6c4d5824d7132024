"""How long a command takes to start: ``beatsync --help``, ``beatsync-server --help``.

Prints figures; it is not a test. Each command runs in a fresh interpreter
(``python3 -c``, the way the console scripts start it), 7 times; printed are
the median wall time of the whole process, the median CPU of importing and
running the command, and how many modules it loaded. With ``--before TREE``
another checkout is measured in the same run, side by side.

    python3 -m bench.command_start [--before /tmp/base]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.peers import ROOT

RUNS = 7
COMMANDS = {
    "beatsync --help": ("field_client.cli", "cli", ["--help"]),
    "beatsync complaint new --help": ("field_client.cli", "cli", ["complaint", "new", "--help"]),
    "beatsync-server --help": ("server.cli", "main", ["--help"]),
}

_PROBE = """
import io, json, sys, time
from contextlib import redirect_stdout
cpu = time.process_time()
from {module} import {group} as cli
with redirect_stdout(io.StringIO()):
    try:
        cli.main({args!r}, prog_name="bench", standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps({{"cpu_s": time.process_time() - cpu, "modules": len(sys.modules)}}))
"""


def start(tree: Path, module: str, group: str, args: list[str]) -> tuple[float, float, int]:
    """``(wall s, CPU s, modules)`` of one start in a fresh interpreter."""
    code = _PROBE.format(module=module, group=group, args=args)
    started = time.perf_counter()
    answer = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # not a source tree: PYTHONPATH alone decides
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    wall = time.perf_counter() - started
    figures = json.loads(answer.stdout.splitlines()[-1])
    return wall, figures["cpu_s"], figures["modules"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another source tree, measured side by side")
    args = parser.parse_args()
    trees = {"before": args.before} if args.before else {}
    trees["this tree"] = ROOT
    print(f"{os.cpu_count()} cores; medians of {RUNS} fresh starts (target: < 0.2 s)")
    print(f"{'command':32} {'tree':10} {'wall s':>8} {'CPU s':>8} {'modules':>8}")
    for name, (module, group, argv) in COMMANDS.items():
        runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label in trees}
        for _ in range(RUNS):  # the trees take turns, so both see the same machine load
            for label, tree in trees.items():
                runs[label].append(start(tree, module, group, argv))
        for label, figures in runs.items():
            wall = statistics.median(r[0] for r in figures)
            cpu = statistics.median(r[1] for r in figures)
            print(f"{name:32} {label:10} {wall:>8.3f} {cpu:>8.3f} {figures[0][2]:>8}")


if __name__ == "__main__":
    main()
