"""Which protocol ``FieldReplica.sync`` speaks: the gateway's sync session when the
welcome offers it (one request per sync once known), the standard CouchDB
replication with a server that does not (pouchdb-server), on real SQLite replicas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from field_client.replica import UNASSIGNED, FieldReplica
from field_client.reports import SyncProgress
from server.config import GatewayConfig
from server.gateway.app import create_app
from sync.errors import NotFound
from sync.http import HttpDatabase
from sync.session_client import checkpoint_id
from tests.field_client.support import PASSPHRASE, complaint, visitor
from tests.field_client.test_gateway import PASSWORD, _provision, _url
from tests.field_client.test_sync import _other

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def counted(
    data_dir: Path, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> tuple[TestServer, list[str]]:
    """The gateway, and every request it served as ``"METHOD /path"``."""
    await _provision(data_dir)
    seen: list[str] = []

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(f"{request.method} {request.path}")
        return await handler(request)

    app = create_app(GatewayConfig(data_dir=data_dir))
    app.middlewares.insert(0, count)
    return await aiohttp_server(app), seen


async def _device(server: TestServer, home: Path, officer: str) -> FieldReplica:
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer, station_id=UNASSIGNED, beat_id="beat-3"
    )
    await replica.enrol(_url(server), password=PASSWORD, device_name=f"{officer}'s tablet")
    return replica


async def test_a_sync_with_the_gateway_is_one_request_and_tells_its_progress(
    counted: tuple[TestServer, list[str]], tmp_path: Path
) -> None:
    server, seen = counted
    desk = await _device(server, tmp_path / "desk", "so.verma")
    officer = await _device(server, tmp_path / "officer", "si.sharma")
    try:
        for _ in range(3):
            await desk.save_record(visitor())
        assert (await desk.sync()).pushed == 3  # records; their journal entries go uncounted
        await officer.save_record(complaint())
        seen.clear()
        told: list[SyncProgress] = []
        report = await officer.sync(on_progress=told.append)
        assert (report.pushed, report.pulled, report.refused) == (1, 3, ())
        session = "POST /station-kotwali/_beatsync/sync"
        assert seen == ["GET /", session]  # the welcome once, then the session
        assert SyncProgress("push", 1, 1) in told
        assert told[-1] == SyncProgress("pull", 3, None)
        assert (await officer.status()).pending_records == 0
        # Known now: a sync with nothing to do is the session alone, moving nothing.
        seen.clear()
        again = await officer.sync()
        assert (again.pushed, again.pulled, seen) == (0, 0, [session])
        # What the officer pulled is never offered back to the desk's device either.
        assert (await desk.sync()).pulled == 1
        assert (await officer.status()).records["visitor_entry"] == 3
    finally:
        await desk.close()
        await officer.close()


async def test_a_server_without_the_session_gets_the_standard_replication(
    pouchdb_server_url: str, unique_db_name: str, replica: FieldReplica, tmp_path: Path
) -> None:
    url = f"{pouchdb_server_url}/{unique_db_name}"
    async with HttpDatabase(url) as remote:
        await remote.create()
        for n in range(2):
            await replica.save_record(complaint(f"Complaint {n}."))
        report = await replica.sync(remote)
        assert (report.pushed, report.pulled, report.refused) == (2, 0, ())
        # The standard protocol's requests (welcome, _revs_diff, _bulk_docs, checkpoints...).
        assert remote.stats.requests > 4
        assert (await remote.info())["doc_count"] == 4
        with pytest.raises(NotFound):  # no session was held
            await replica.db.get_local(checkpoint_id(remote.url))
    other = await _other(tmp_path, "other")
    try:
        async with HttpDatabase(url) as remote:
            pulled = await other.sync(remote)
        assert (pulled.pushed, pulled.pulled) == (0, 2)
        assert (await other.status()).records["complaint"] == 2
    finally:
        await other.close()
