"""One two-way sync of the device's store with a server: the sync session when the
server offers it, the standard CouchDB replication otherwise.

A BeatSync gateway (or station hub) says ``beatsync_session: 1`` in its
``GET /`` welcome; then push and pull go in one request
(:mod:`sync.session_client`), which on a 600 ms link is the difference
between one round trip and a dozen. A stock CouchDB, pouchdb-server, or an
older gateway gets the standard protocol, push first then pull.

What the welcome said of the enrolled server is remembered (``known``), so a
sync with nothing to do is one request; if the server stops offering it (an
older gateway put back), the session answers 404 or 405 and this falls back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.database import Database
from sync.errors import CouchError, MethodNotAllowed, NotFound
from sync.http import HttpDatabase
from sync.replication import (
    Progress,
    ReplicationError,
    ReplicationResult,
    RetryPolicy,
    Side,
    replicate,
)
from sync.session_client import checkpoint_id, offers_session, run_session

__all__ = ["Failed", "Outcome", "two_way"]

ProgressCallback = Callable[[str, Progress], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    pushed: int
    pulled: int
    pushed_refused: tuple[dict[str, Any], ...]  # held back: the next sync offers them again
    pulled_refused: tuple[dict[str, Any], ...]
    session: bool  # whether the server offered the sync session (remember it)


class Failed(Exception):
    """A sync that stopped: the replicator's ``failure`` and which side the server was."""

    def __init__(self, failure: ReplicationError, server: Side) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.server = server


async def _offered(target: Database, known: bool) -> bool:
    if not isinstance(target, HttpDatabase):
        return False
    if known:
        return True
    try:
        return await offers_session(target.transport)
    except CouchError as exc:  # a broken link
        raise Failed(ReplicationError(str(exc), cause=exc, side=Side.TARGET), Side.TARGET) from exc


async def two_way(
    local: Database,
    target: Database,
    *,
    retry: RetryPolicy,
    on_progress: ProgressCallback | None,
    known_session: bool = False,
) -> Outcome:
    """Push ``local`` to ``target`` and pull what it lacks; raises :class:`Failed`."""
    if await _offered(target, known_session):
        assert isinstance(target, HttpDatabase)
        try:
            done = await run_session(
                local,
                target.transport,
                local_id=checkpoint_id(target.url),
                retry=retry,
                on_progress=on_progress,
            )
        except ReplicationError as failure:
            if known_session and isinstance(failure.cause, NotFound | MethodNotAllowed):
                return await two_way(local, target, retry=retry, on_progress=on_progress)
            raise Failed(failure, Side.TARGET) from failure
        return Outcome(done.pushed, done.pulled, tuple(done.rejected), (), session=True)
    # Push first: what the officer recorded reaches the centre even if the
    # link drops before the pull is done.
    push = await _replicate(local, target, Side.TARGET, retry, _labelled("push", on_progress))
    pull = await _replicate(target, local, Side.SOURCE, retry, _labelled("pull", on_progress))
    return Outcome(push.docs_written, pull.docs_written, push.rejected, pull.rejected, False)


async def _replicate(
    source: Database,
    target: Database,
    server: Side,
    retry: RetryPolicy,
    on_progress: Callable[[Progress], None] | None,
) -> ReplicationResult:
    try:
        return await replicate(source, target, retry=retry, on_progress=on_progress)
    except ReplicationError as failure:
        raise Failed(failure, server) from failure


def _labelled(
    direction: str, callback: ProgressCallback | None
) -> Callable[[Progress], None] | None:
    if callback is None:
        return None
    return lambda progress: callback(direction, progress)
