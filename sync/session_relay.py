"""Two stores kept in step for as long as a process runs (a station hub and its district).

When the remote offers the sync session (:mod:`sync.session_client`), each
round is one session, then a wait until either side has news: the local
store's own feed, or the remote's ``_changes`` longpoll from the pull
checkpoint (the standard endpoint, scoped the same way). On a station's link
that is one request a round instead of the standard protocol's two
directions of ``_changes`` + ``_revs_diff`` + ``_bulk_get`` + checkpoints.
Otherwise (a stock CouchDB, an older gateway) it is the standard continuous
replication both ways (:func:`sync.replication.sync`).

Transient failures back off with jitter and resume from the checkpoints,
forever; a refusal raises :class:`~sync.replication.ReplicationError`, as
the standard replication does, for the caller to log and retry later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from sync.database import Database, Seq
from sync.errors import CouchError, MethodNotAllowed, NotFound
from sync.http import HttpDatabase
from sync.replication import RetryPolicy, is_transient, sync
from sync.replication.stopping import Stopped, until_stopped
from sync.session_client import checkpoint_id, offers_session, refusal, session_sync

__all__ = ["keep_in_step"]

# Below the 30-60 s after which NAT boxes and mobile carriers drop idle connections.
LONGPOLL_TIMEOUT: Final = 25.0


async def _news(
    local: Database, remote: HttpDatabase, local_id: str, here: Seq, timeout: float
) -> None:
    """Return when either side has a change since the last session began (or on timeout).

    ``here`` is the local seq read *before* that session: a write landing while it ran
    may have missed its push, and reading the seq afterwards would leave that write
    waiting out the whole longpoll. What the session pulled is past ``here`` too, so a
    round that pulled is followed by one quiet round, which is cheap; a lost write is not.
    """
    try:
        pull_seq = (await local.get_local(local_id))["pull_seq"]
    except NotFound:
        pull_seq = 0
    waits = {
        asyncio.ensure_future(local.changes(since=here, feed="longpoll", timeout=timeout, limit=1)),
        asyncio.ensure_future(
            remote.changes(since=pull_seq, feed="longpoll", timeout=timeout, limit=1)
        ),
    }
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a broken link comes out here
    finally:
        for task in waits:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, CouchError):
                    await task


async def keep_in_step(
    local: Database,
    remote: HttpDatabase,
    *,
    stop: asyncio.Event,
    retry: RetryPolicy,
    on_retry: Callable[[BaseException], None] = lambda exc: None,
    longpoll_timeout: float = LONGPOLL_TIMEOUT,
) -> None:
    """Sync ``local`` and ``remote`` both ways until ``stop`` is set (see module doc)."""
    local_id = checkpoint_id(remote.url)
    offered: bool | None = None
    attempt = 0
    while not stop.is_set():
        try:
            if offered is None:
                offered = await until_stopped(offers_session(remote.transport), stop)
            if not offered:
                await sync(local, remote, continuous=True, stop=stop, retry=retry)
                return
            here = (await local.info())["update_seq"]
            await until_stopped(session_sync(local, remote.transport, local_id=local_id), stop)
            attempt = 0
            await until_stopped(_news(local, remote, local_id, here, longpoll_timeout), stop)
        except Stopped:
            return
        except (NotFound, MethodNotAllowed):
            offered = False  # an older gateway put back: the standard protocol
        except CouchError as exc:
            if not is_transient(exc):
                raise refusal(exc) from exc
            on_retry(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry.delay(attempt, exc))
            attempt += 1
