"""A gateway killed between storing a revision and auditing it: the next sync closes the gap.

The store (``stations/<id>.sqlite``) and the audit log (``gateway.sqlite``)
are separate files, as over CouchDB they are separate databases: no one
transaction covers both. The test holds the audit file's write lock, so the
gateway blocks right after the store committed, and SIGKILLs it there. Before
the fix, ``_revs_diff`` then answered ``{}`` for the stored revision and no
replicator ever sent it again: a record in the store that the audit never
saw. Now the gateway reports a stored but unaudited revision as missing.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from server.policy.admin import DEMO_PASSWORD
from sync.http import HttpDatabase
from sync.replication import replicate
from sync.sqlite import SQLiteDatabase
from tests.peers import free_port
from tests.server.conftest import record
from tests.server.gateway.serve_process import serve, stop


def _basic(officer: str) -> dict[str, str]:
    raw = base64.b64encode(f"{officer}:{DEMO_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _stored(station_file: Path, doc_id: str) -> bool:
    if not station_file.exists():
        return False
    conn = sqlite3.connect(station_file)
    try:
        return bool(conn.execute("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)).fetchall())
    except sqlite3.OperationalError:
        return False  # not created yet
    finally:
        conn.close()


async def _audited(url: str, doc_id: str) -> list[str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/_beatsync/audit?db=station-kotwali", headers=_basic("central")) as answer,
    ):
        body = await answer.json()
    return [w["rev"] for w in body["writes"] if w["doc_id"] == doc_id]


@pytest.mark.slow
async def test_a_revision_stored_but_not_audited_is_sent_again_and_audited(
    tmp_path: Path,
) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    officer = "sho-kotwali"
    device = await SQLiteDatabase.open(tmp_path / "device.sqlite")
    try:
        doc = record(1, station="kotwali", beat="kotwali-bazaar", officer=officer)
        rev = (await device.put(doc))["rev"]
        (pushed,) = (await device.bulk_get([{"id": doc["_id"]}], revs=True))[0]["docs"]

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # No background merging: its first state write would wait on the lock
        # below in the state's one worker thread, and the write under test
        # (whose authentication reads the state) would wait behind it.
        process = await serve(data, port, log, "--no-merge")
        audit_lock = sqlite3.connect(data / "gateway.sqlite", isolation_level=None)
        try:
            audit_lock.execute("BEGIN IMMEDIATE")  # the audit append will wait here
            async with aiohttp.ClientSession() as http:
                write = asyncio.create_task(
                    http.post(
                        f"{url}/station-kotwali/_bulk_docs",
                        json={"docs": [pushed["ok"]], "new_edits": False},
                        headers=_basic(officer),
                    )
                )
                station_file = data / "stations" / "kotwali.sqlite"
                for _ in range(200):
                    if _stored(station_file, doc["_id"]):
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("the gateway never stored the revision")
                process.send_signal(signal.SIGKILL)  # between the store and the audit
                await process.wait()
                with pytest.raises(aiohttp.ClientError):
                    await write
        finally:
            audit_lock.rollback()
            audit_lock.close()
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == -signal.SIGKILL

        process = await serve(data, port, log)
        try:
            assert await _audited(url, doc["_id"]) == []  # stored, never audited
            target = HttpDatabase(
                f"http://{officer}:{DEMO_PASSWORD}@127.0.0.1:{port}/station-kotwali"
            )
            try:
                result = await replicate(device, target)
            finally:
                await target.close()
            assert result.ok
            assert result.docs_written == 1  # sent again: the gateway said it was missing
            assert await _audited(url, doc["_id"]) == [rev]
        finally:
            assert await stop(process) == 0
    finally:
        await device.close()
