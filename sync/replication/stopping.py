"""Waiting on something unless the caller asks the replication to stop first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["Stopped", "until_stopped"]

T = TypeVar("T")


class Stopped(Exception):
    """``stop`` was set while waiting."""


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event | None) -> T:
    """``await awaitable``, but cancel it and raise :class:`Stopped` as soon as ``stop`` is set.

    Needed for waits that may never end on their own: a longpoll on a server
    that keeps idle requests open past their ``timeout`` (pouchdb-server 4.2
    does), or a long backoff sleep.
    """
    if stop is None:
        return await awaitable
    if stop.is_set():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()  # never awaited: close it so Python does not warn
        raise Stopped
    work = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, stopper):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work.done() and not work.cancelled():
        return work.result()
    raise Stopped
