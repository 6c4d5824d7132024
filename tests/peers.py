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
from dataclasses import dataclass
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
    with pouchdb_server_process(workdir) as (url, _process):
        yield url


@contextmanager
def pouchdb_server_process(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`pouchdb_server`, yielding the process too (a benchmark reads its CPU)."""
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
        yield f"http://127.0.0.1:{port}", process
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


# -- a real Apache CouchDB instead of pouchdb-server ---------------------------------------
#
# BEATSYNC_TEST_COUCHDB=http://admin:password@127.0.0.1:5984 (a server admin) runs
# the store contract suite and every CouchDB-backed test against that server
# (tests/README.md). Expectations that differ are named where they are checked:
# ``CouchPeer.couchdb3`` says which server a test has.
EXTERNAL_COUCHDB_ENV = "BEATSYNC_TEST_COUCHDB"
# What a test may leave that a shared server keeps: its databases, its users and
# its _replicator documents (a continuous replication runs until its doc goes).
_SYSTEM_DBS = ("_users", "_replicator")


@dataclass(frozen=True)
class CouchPeer:
    """The CouchDB-protocol server of the HTTP tests: ``couchdb3`` when it is the
    real Apache CouchDB 3 of $BEATSYNC_TEST_COUCHDB, else pouchdb-server (a
    stand-in: the tests name where it differs)."""

    url: str
    couchdb3: bool


def external_couchdb() -> str | None:
    url = os.environ.get(EXTERNAL_COUCHDB_ENV)
    return url.rstrip("/") if url else None


def _couch_json(method: str, url: str) -> object:
    import base64
    import json
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    bare = parts._replace(netloc=host + (f":{parts.port}" if parts.port else ""))
    request = urllib.request.Request(urllib.parse.urlunsplit(bare), method=method)
    if parts.username is not None:
        user, password = (urllib.parse.unquote(v or "") for v in (parts.username, parts.password))
        pair = f"{user}:{password}"
        request.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _snapshot(url: str) -> dict[str, dict[str, str]]:
    """The databases (``""``), and the doc ids and revs of the system databases, now."""
    dbs = _couch_json("GET", f"{url}/_all_dbs")
    assert isinstance(dbs, list)
    seen: dict[str, dict[str, str]] = {"": dict.fromkeys(dbs, "")}
    for name in _SYSTEM_DBS:
        if name in dbs:
            rows = _couch_json("GET", f"{url}/{name}/_all_docs")
            assert isinstance(rows, dict)
            seen[name] = {row["id"]: row["value"]["rev"] for row in rows["rows"]
                          if not row["id"].startswith("_design/")}
    return seen


def _remove_new(url: str, before: dict[str, dict[str, str]]) -> None:
    import urllib.parse

    after = _snapshot(url)
    for name in _SYSTEM_DBS:
        for doc_id, rev in sorted(after.get(name, {}).items()):
            if doc_id not in before.get(name, {}):
                # Deleting a _replicator document cancels its replication (CouchDB's scheduler).
                quoted = urllib.parse.quote(doc_id, safe="")
                _couch_json("DELETE", f"{url}/{name}/{quoted}?rev={rev}")
    for db in sorted(set(after[""]) - set(before[""])):
        _couch_json("DELETE", f"{url}/{urllib.parse.quote(db, safe='')}")


@contextmanager
def external_couch(url: str) -> Iterator[str]:
    """Yield ``url``; afterwards remove what was created on it meanwhile."""
    before = _snapshot(url)
    try:
        yield url
    finally:
        _remove_new(url, before)


@contextmanager
def couch_server(workdir: Path) -> Iterator[str]:
    """The admin URL of the CouchDB a test uses: $BEATSYNC_TEST_COUCHDB (what the
    test creates there is removed afterwards), or a pouchdb-server of its own
    on loopback (stopped afterwards)."""
    external = external_couchdb()
    if external is not None:
        with external_couch(external) as url:
            yield url
        return
    with pouchdb_server(workdir) as url:
        yield url
