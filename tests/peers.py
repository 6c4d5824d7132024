"""The npm peers tests compare against: pouchdb-server and the PouchDB client.

A test that needs one calls :func:`require`; on a developer's machine without
npm packages it skips, and under CI (``CI=true``) it fails, because CI must run
every test (the README's test command installs the peers first).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
POUCHDB_SERVER = NODE_MODULES / ".bin" / "pouchdb-server"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str) -> None:
    """Skip (on a developer's machine) or fail (in CI) when ``what`` is missing."""
    if available:
        return
    message = f"{what} is not installed: run ./scripts/test, which installs it"
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def has_node_package(name: str) -> bool:
    return shutil.which("node") is not None and (NODE_MODULES / name / "package.json").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    import urllib.request

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pouchdb-server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("pouchdb-server did not answer within 60 s")


@contextmanager
def pouchdb_server(workdir: Path) -> Iterator[str]:
    """Run pouchdb-server on a free loopback port in ``workdir``; yield its base URL."""
    require(POUCHDB_SERVER.exists() and shutil.which("node") is not None, "pouchdb-server (npm)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [str(POUCHDB_SERVER), "--host", "127.0.0.1", "--port", str(port), "--in-memory",
         "--no-stdout-logs", "--dir", str(workdir), "--config", str(workdir / "config.json")],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(port, process, time.monotonic() + 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run_node(script: str, *args: str, timeout: float = 120) -> str:
    """Run a Node.js script (source text) with the project's node_modules; return stdout."""
    require(has_node_package("pouchdb"), "the PouchDB client (npm pouchdb)")
    process = await asyncio.create_subprocess_exec(
        "node", "-e", script, *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"node failed ({process.returncode}): {err.decode()[-2000:]}")
    return out.decode()
