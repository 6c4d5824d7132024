"""``sync.session_client`` against a real gateway on loopback: one request for a small
push and pull, one for a sync with nothing to do, and nothing offered back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.http.transport import Transport
from sync.session_client import offers_session, session_sync
from sync.sqlite import SQLiteDatabase
from tests.server.conftest import PASSWORD, basic, bulk_docs, record, store_of

CP = "_local/beatsync-session"


def _transport(client: Any) -> Transport:
    url = client.server.make_url("/station-alpha").with_user("so-alpha").with_password(PASSWORD)
    return Transport(str(url), auth=None, session=None, compress_requests=True,
                     request_timeout=30)


async def test_one_request_each_way_and_nothing_offered_back(client, tmp_path: Path) -> None:
    await bulk_docs(client, [record(i) for i in range(5)], basic("so-alpha"))
    local = await SQLiteDatabase.open(tmp_path / "device.sqlite")
    remote = _transport(client)
    try:
        assert await offers_session(remote)
        await local.bulk_docs([record(i) for i in range(10, 13)])
        first = await session_sync(local, remote, local_id=CP)
        assert (first.requests, first.pushed, first.pulled) == (1, 3, 5)
        server = await store_of(client)
        assert (await server.info())["doc_count"] == 8
        assert (await local.info())["doc_count"] == 8
        noop = await session_sync(local, remote, local_id=CP)
        # Nothing pushed: the pulled docs are not offered back.
        assert (noop.requests, noop.pushed, noop.pulled) == (1, 0, 0)
        sent_before = remote.stats.bytes_sent
        await session_sync(local, remote, local_id=CP)
        assert remote.stats.bytes_sent - sent_before < 600
    finally:
        await remote.close()
        await local.close()


async def test_small_budget_pages_until_done(client, tmp_path: Path) -> None:
    await bulk_docs(client, [record(i) for i in range(60)], basic("so-alpha"))
    local = await SQLiteDatabase.open(tmp_path / "device.sqlite")
    remote = _transport(client)
    try:
        done = await session_sync(local, remote, local_id=CP, budget=4096)
        assert done.requests > 1
        assert (await local.info())["doc_count"] == 60
    finally:
        await remote.close()
        await local.close()
