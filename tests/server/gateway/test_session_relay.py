"""``sync.session_relay.keep_in_step`` (the station hub's relay): sessions with a gateway
that offers them, the standard continuous replication with pouchdb-server, both
converging on real SQLite files while each side keeps writing."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from sync.database import Database
from sync.errors import NotFound
from sync.http import HttpDatabase
from sync.replication import RetryPolicy
from sync.session_client import checkpoint_id
from sync.session_relay import keep_in_step
from sync.sqlite import SQLiteDatabase
from tests.server.conftest import PASSWORD, record, store_of
from tests.server.couch_support import wait_for

FAST = RetryPolicy(base_delay=0.05, max_delay=0.2)


async def _ids(db: Database) -> set[str]:
    return {row["id"] for row in (await db.all_docs())["rows"]}


async def _converged(a: Database, b: Database, want: int) -> None:
    async def same() -> bool:
        return len(await _ids(a)) == want and await _ids(a) == await _ids(b)

    await wait_for(same, every=0.05)


async def _run_both_ways(local: Database, remote: HttpDatabase, central: Database) -> None:
    """Writes on each side before and while the relay runs; both end with everything."""
    await local.bulk_docs([record(i) for i in range(5)])
    await central.bulk_docs([record(i) for i in range(100, 103)])
    stop = asyncio.Event()
    relay = asyncio.create_task(
        keep_in_step(local, remote, stop=stop, retry=FAST, longpoll_timeout=2)
    )
    try:
        await _converged(local, central, 8)
        await local.bulk_docs([record(9)])
        await central.bulk_docs([record(109)])
        await _converged(local, central, 10)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await relay


async def test_with_a_gateway_each_round_is_a_session(client: Any, tmp_path: Path) -> None:
    url = client.server.make_url("/station-alpha").with_user("so-alpha").with_password(PASSWORD)
    local = await SQLiteDatabase.open(tmp_path / "hub.sqlite")
    try:
        async with HttpDatabase(str(url), compress_requests=True) as remote:
            await _run_both_ways(local, remote, await store_of(client))
            checkpoint = await local.get_local(checkpoint_id(remote.url))
            assert checkpoint["pull_seq"] != 0
    finally:
        await local.close()


async def test_with_pouchdb_server_it_is_the_standard_replication(
    pouchdb_server_url: str, unique_db_name: str, tmp_path: Path
) -> None:
    local = await SQLiteDatabase.open(tmp_path / "hub.sqlite")
    try:
        async with HttpDatabase(f"{pouchdb_server_url}/{unique_db_name}") as remote:
            await remote.create()
            await _run_both_ways(local, remote, remote)
            with pytest.raises(NotFound):
                await local.get_local(checkpoint_id(remote.url))
    finally:
        await local.close()


async def test_stop_ends_it_while_the_remote_is_unreachable(tmp_path: Path) -> None:
    from tests.peers import free_port

    local = await SQLiteDatabase.open(tmp_path / "hub.sqlite")
    try:
        async with HttpDatabase(f"http://127.0.0.1:{free_port()}/station-x") as remote:
            stop = asyncio.Event()
            retried: list[BaseException] = []
            relay = asyncio.create_task(
                keep_in_step(local, remote, stop=stop, retry=FAST, on_retry=retried.append)
            )

            async def twice() -> bool:
                return len(retried) >= 2

            await wait_for(twice, every=0.02)
            stop.set()
            async with asyncio.timeout(5):
                await relay
    finally:
        with contextlib.suppress(Exception):
            await local.close()


class _WritesDuringTheSession(SQLiteDatabase):
    """A hub store on which a desk officer saves a record while a session is in flight:
    right after the session has read its outbox, before the server answers."""

    armed = False

    async def changes(self, **options: Any) -> Any:
        feed = await super().changes(**options)
        if self.armed and options.get("feed") is None:
            self.armed = False
            await self.bulk_docs([record(7)])
        return feed


async def test_a_write_during_a_session_goes_up_without_waiting_out_the_longpoll(
    client: Any, tmp_path: Path
) -> None:
    # The seq the wait starts from is read before the session, not after: read after,
    # the write above would sit in the hub until the 25 s longpoll ran out.
    url = client.server.make_url("/station-alpha").with_user("so-alpha").with_password(PASSWORD)
    local = await _WritesDuringTheSession.open(tmp_path / "hub.sqlite")
    central = await store_of(client)
    stop = asyncio.Event()
    try:
        async with HttpDatabase(str(url)) as remote:
            await local.bulk_docs([record(1)])
            relay = asyncio.create_task(
                keep_in_step(local, remote, stop=stop, retry=FAST, longpoll_timeout=60)
            )
            try:
                await _converged(local, central, 1)
                local.armed = True
                await central.bulk_docs([record(101)])  # wakes the relay into a session
                await _converged(local, central, 3)  # polls for 10 s: a sixth of the longpoll
                assert local.armed is False  # the write did land during a session
            finally:
                stop.set()
                async with asyncio.timeout(10):
                    await relay
    finally:
        await local.close()
