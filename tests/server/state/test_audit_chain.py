"""The audit log is a signed hash chain on both backends; ``audit verify`` finds tampering.

Each test writes a few entries through the state, then changes the stored log
directly, as someone with access to the SQLite file or to the CouchDB audit
database (here pouchdb-server as its admin) would: delete an entry, edit one,
edit one and recompute its hash, fork the chain. What CouchDB 3 adds (the
gateway user is not an admin of the audit database, so it cannot remove the
validator) is checked in ``tests/server/couch/test_bootstrap_rights.py``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.cli import main
from server.couch.state import AUDIT_DB
from server.state.audit_chain import (
    ChainReport,
    entry_hash,
    head_setting,
    key_setting,
    public_key_b64,
)
from server.state.audit_verify import verify_audit
from server.state.interface import GatewayState
from server.state.models import NewAuditEntry
from server.state.sqlite import SQLiteGatewayState
from tests.server.couch_support import central_state, couch_server, provision

Tamper = Callable[[str, Callable[[dict[str, Any]], dict[str, Any] | None]], Awaitable[None]]


@pytest.fixture(scope="module")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with couch_server(tmp_path_factory.mktemp("couch")) as url:
        yield url


def _entries(n: int, db: str) -> list[NewAuditEntry]:
    return [
        NewAuditEntry(
            db, f"doc-{i}", f"1-{i:032x}", "so-alpha", "dev-1", "complaint", False, "verified",
            signer="dev-1", body={"_id": f"doc-{i}", "note": f"नोट {i}"},
        )
        for i in range(n)
    ]  # fmt: skip


async def _written(state: GatewayState) -> str:
    """Five entries in two batches; the chain they are on."""
    db = f"station-{uuid4().hex[:8]}"
    await state.append(_entries(3, db))
    await state.append(_entries(5, db)[3:])
    report = await verify_audit(state)
    mine = [c for c in report.chains if c.endswith(_tag(state))] or list(report.chains)
    (chain,) = mine
    assert report.chains[chain][0] == 5
    return chain


def _tag(state: GatewayState) -> str:
    tag = getattr(state, "_gateway_tag", None)
    return f".{tag}" if tag else "\0none"


# -- the two ways in: the SQLite file, the CouchDB database ----------------------------


def _sqlite_change(
    path: Path, kind: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> None:
    """Delete, edit or fork the third entry of the file's log, as its owner could."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    row = dict(conn.execute("SELECT * FROM audit ORDER BY seq LIMIT 1 OFFSET 2").fetchone())
    changed = change({**row, "deleted": bool(row["deleted"])})
    if kind == "delete":
        conn.execute("DELETE FROM audit WHERE seq = ?", (row["seq"],))
    elif kind == "edit":
        assert changed is not None
        conn.execute(
            "UPDATE audit SET officer_id = ?, hash = ? WHERE seq = ?",
            (changed["officer_id"], changed["hash"], row["seq"]),
        )
    else:  # fork: a second entry after the same one
        assert changed is not None
        columns = [c for c in changed if c not in ("seq",)]
        conn.execute(
            f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [int(changed[c]) if c == "deleted" else changed[c] for c in columns],
        )
    conn.commit()
    conn.close()


def _sqlite_tamper(path: Path) -> Tamper:
    async def tamper(kind: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        _sqlite_change(path, kind, change)

    return tamper


def _couch_tamper(couch_url: str, chain: str) -> Tamper:
    base = f"{couch_url}/{AUDIT_DB}"

    async def tamper(kind: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        async with aiohttp.ClientSession() as http:
            query = {"selector": {"chain": chain}, "limit": 10}
            async with http.post(f"{base}/_find", json=query) as answer:
                docs = sorted(
                    (await answer.json(content_type=None))["docs"], key=lambda d: d["seq"]
                )
            doc = docs[2]
            # The validator only stops updates; as the database's admin, remove it first.
            async with http.get(f"{base}/_design/append-only") as answer:
                design = await answer.json(content_type=None)
            if "_rev" in design:
                await http.delete(f"{base}/_design/append-only?rev={design['_rev']}")
            if kind == "delete":
                async with http.delete(f"{base}/{doc['_id']}?rev={doc['_rev']}") as answer:
                    assert answer.status == 200, await answer.text()
                return
            changed = change(dict(doc))
            assert changed is not None
            if kind == "edit":
                async with http.put(f"{base}/{doc['_id']}", json=changed) as answer:
                    assert answer.status == 201, await answer.text()
                return
            # fork: a branch with no common ancestor beside the stored entry
            branch = {**changed, "_id": doc["_id"], "_rev": "1-" + "f" * 32}
            async with http.post(
                f"{base}/_bulk_docs", json={"docs": [branch], "new_edits": False}
            ) as answer:
                assert answer.status == 201, await answer.text()

    return tamper


@pytest.fixture(params=["sqlite", "couch"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[GatewayState, str, Tamper]]:
    if request.param == "sqlite":
        path = tmp_path / "gateway.sqlite"
        state: GatewayState = await SQLiteGatewayState.open(path)
        chain = await _written(state)
        tamper = _sqlite_tamper(path)
    else:
        url = request.getfixturevalue("couch_url")
        await provision(url)
        state = central_state(url)
        chain = await _written(state)
        tamper = _couch_tamper(url, chain)
    try:
        yield state, chain, tamper
    finally:
        await state.close()


def _problems(report: ChainReport, chain: str) -> list[str]:
    return [p.reason for p in report.problems if p.chain == chain]


def _forged_officer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "officer_id": "forged-officer"}


def _rehashed(row: dict[str, Any]) -> dict[str, Any]:
    edited = _forged_officer(row)
    fields = {**edited, "body": _body(edited)}
    edited["hash"] = entry_hash(fields, chain=row["chain"], prev=row["prev"])
    return edited


def _body(row: dict[str, Any]) -> Any:
    body = row.get("body")
    # JSON text (entries from before sealing) or bytes (through the PlainCodec).
    return json.loads(body) if isinstance(body, str | bytes) else body


async def test_an_untouched_log_verifies(backend: tuple[GatewayState, str, Tamper]) -> None:
    state, chain, _ = backend
    report = await verify_audit(state)
    assert _problems(report, chain) == []
    length, head = report.chains[chain]
    assert length == 5
    assert head is not None
    assert len(head) == 64


async def test_a_deleted_entry_is_a_gap(backend: tuple[GatewayState, str, Tamper]) -> None:
    state, chain, tamper = backend
    await tamper("delete", lambda row: None)
    assert _problems(await verify_audit(state), chain) == [
        "the entry before it is missing (deleted?)"
    ]


async def test_an_edited_entry_no_longer_matches_its_hash(
    backend: tuple[GatewayState, str, Tamper],
) -> None:
    state, chain, tamper = backend
    await tamper("edit", _forged_officer)
    assert _problems(await verify_audit(state), chain) == [
        "edited: its content does not match its hash"
    ]


async def test_a_rehashed_entry_lacks_the_gateways_signature(
    backend: tuple[GatewayState, str, Tamper],
) -> None:
    state, chain, tamper = backend
    await tamper("edit", _rehashed)
    problems = _problems(await verify_audit(state), chain)
    # The next entry still names the old hash: a gap too.
    assert "forged: the gateway's signature does not verify" in problems
    assert "the entry before it is missing (deleted?)" in problems


async def test_a_fork_is_reported(backend: tuple[GatewayState, str, Tamper]) -> None:
    state, chain, tamper = backend
    await tamper("fork", _rehashed)
    problems = _problems(await verify_audit(state), chain)
    assert any(p.startswith("a fork") for p in problems), problems


def test_the_cli_reports_and_exits_1_on_a_tampered_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    async def write() -> None:
        state = await SQLiteGatewayState.open(data / "gateway.sqlite")
        try:
            await _written(state)
        finally:
            await state.close()

    asyncio.run(write())
    runner = CliRunner()
    intact = runner.invoke(main, ["audit", "verify", "--data", str(data)])
    assert intact.exit_code == 0, intact.output
    assert "5 entries" in intact.output
    assert "The audit log is intact." in intact.output

    _sqlite_change(data / "gateway.sqlite", "delete", lambda row: None)
    broken = runner.invoke(main, ["audit", "verify", "--data", str(data)])
    assert broken.exit_code == 1
    assert "PROBLEM seq 4" in broken.output
    assert "the entry before it is missing" in broken.output
    assert "report to the district IT cell" in broken.output
    assert "Traceback" not in broken.output


async def test_the_key_stays_outside_the_state(tmp_path: Path) -> None:
    # The signing key is a file of its own, owner-only; the state holds only the public key.
    state = await SQLiteGatewayState.open(tmp_path / "gateway.sqlite")
    try:
        await state.append(_entries(1, "station-x"))
        (chain,) = (await verify_audit(state)).chains
        published = await state.get_setting(key_setting(chain))
    finally:
        await state.close()
    key_file = tmp_path / "audit-signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = Ed25519PrivateKey.from_private_bytes(key_file.read_bytes())
    assert published == public_key_b64(key.public_key())
    assert key_file.read_bytes() not in (tmp_path / "gateway.sqlite").read_bytes()


async def test_deleting_the_newest_entries_shows_on_the_embedded_state(tmp_path: Path) -> None:
    # No gap is left behind the newest entry, but the head recorded with it is gone.
    path = tmp_path / "gateway.sqlite"
    state = await SQLiteGatewayState.open(path)
    try:
        chain = await _written(state)
        conn = sqlite3.connect(path)
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
        conn.commit()
        conn.close()
        assert _problems(await verify_audit(state), chain) == [
            "its recorded head is missing: the newest entries were deleted"
        ]
        # Moving the recorded head back needs the gateway's key.
        conn = sqlite3.connect(path)
        (head,) = conn.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute(
            "UPDATE settings SET value = ? WHERE key = ?", (f"{head} AAAA", head_setting(chain))
        )
        conn.commit()
        conn.close()
        assert _problems(await verify_audit(state), chain) == [
            "forged: the recorded head is not signed by the gateway"
        ]
    finally:
        await state.close()


@pytest.mark.parametrize("kind", ["sqlite", "couch"])
async def test_concurrent_first_appends_make_one_chain(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # The chain is opened at the first append; requests arriving together must
    # share it (two heads of one chain would fork it at its start).
    if kind == "sqlite":
        state: GatewayState = await SQLiteGatewayState.open(tmp_path / "gateway.sqlite")
    else:
        url = request.getfixturevalue("couch_url")
        await provision(url)
        state = central_state(url)
    try:
        db = f"station-{uuid4().hex[:8]}"
        batches = [_entries(2, f"{db}-{n}") for n in range(5)]
        await asyncio.gather(*(state.append(batch) for batch in batches))
        report = await verify_audit(state)
        (chain,) = [c for c in report.chains if c.endswith(_tag(state))] or list(report.chains)
        assert _problems(report, chain) == []
        assert report.chains[chain][0] == 10
    finally:
        await state.close()
