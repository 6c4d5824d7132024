"""Fair sharing of the gateway between clients (issue 14).

Under a flood from one officer (four parallel ``_bulk_get`` of a photographed
record) a device's sync took 229 ms at p99 instead of ~50: every request got
its turn on the event loop and in the store's threads, so the client sending
most got most. Here every request but the health checks takes a *slot* for
as long as it works:

* one client holds at most ``per_client`` slots; its other requests wait,
  up to ``queue_per_client`` of them (the next gets 429 at once);
* at most ``total`` slots are held across clients, and a freed slot goes to
  the waiting client with the fewest in progress, then to the one served
  longest ago (round robin), so a newcomer passes every flooder's queue;
* a request waits at most ``wait_s``: then 429 when the client's own requests
  held its slots, 503 when the gateway was full, each with ``Retry-After``.

A client is a device (its token), an officer using a password, or else the
address (anonymous: enrolment, the portal). An idle longpoll gives its slot
back while it waits (:meth:`Slot.idle`): it costs nothing then, and a device's
live pull must not hold one of its two slots for a minute.

In memory, per gateway process, like the login throttle: gateways behind a
balancer each share their own slots.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

from server.config import FairLimits
from server.state.models import Principal
from sync.errors import ServiceUnavailable, TooManyRequests

__all__ = ["FairShare", "Slot", "client_key"]

# Seconds a refused client is told to wait: a slot frees in well under that.
_RETRY_OWN_S: Final = 1
_RETRY_BUSY_S: Final = 5


def client_key(principal: Principal | None, address: str | None) -> str:
    """Whose slots a request takes: its device, else its officer, else its address."""
    if principal is not None and principal.device is not None:
        return f"device:{principal.device.id}"
    if principal is not None:
        return f"officer:{principal.officer.id}"
    return f"address:{address or 'unknown'}"


@dataclass(slots=True)
class _Waiter:
    order: int
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FairShare:
    """The slots of one gateway; :meth:`slot` is what requests use."""

    def __init__(self, limits: FairLimits) -> None:
        self.limits = limits
        self._running: dict[str, int] = {}
        self._busy = 0
        self._waiting: dict[str, deque[_Waiter]] = {}
        self._arrivals = itertools.count()
        # When each client with slots or waiters last got a slot (round robin).
        self._served: dict[str, int] = {}

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    def waiting(self, key: str) -> int:
        return len(self._waiting.get(key, ()))

    @property
    def busy(self) -> int:
        return self._busy

    def _start(self, key: str) -> None:
        self._running[key] = self.running(key) + 1
        self._busy += 1
        self._served[key] = next(self._arrivals)

    def release(self, key: str) -> None:
        left = self.running(key) - 1
        if left:
            self._running[key] = left
        else:
            del self._running[key]
            if key not in self._waiting:
                self._served.pop(key, None)
        self._busy -= 1
        self._grant()

    def _grant(self) -> None:
        """Hand free slots to waiting clients, fewest in progress first."""
        while self._busy < self.limits.total:
            ready = [
                (self.running(key), self._served.get(key, -1), queue[0].order, key)
                for key, queue in self._waiting.items()
                if self.running(key) < self.limits.per_client
            ]
            if not ready:
                return
            key = min(ready)[-1]
            queue = self._waiting[key]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._start(key)
            waiter.granted.set_result(None)

    def _forget(self, key: str, waiter: _Waiter) -> None:
        queue = self._waiting.get(key)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._waiting[key]
                if not self.running(key):
                    self._served.pop(key, None)

    async def acquire(self, key: str) -> None:
        """Take one of ``key``'s slots, waiting fairly; 429 or 503 when it cannot."""
        if (
            key not in self._waiting
            and self._busy < self.limits.total
            and (self.running(key) < self.limits.per_client)
        ):
            self._start(key)
            return
        queue = self._waiting.setdefault(key, deque())
        if len(queue) >= self.limits.queue_per_client:
            raise TooManyRequests(
                f"Too many requests at once from this client (at most "
                f"{self.limits.per_client} at a time, {self.limits.queue_per_client} waiting)",
                retry_after=_RETRY_OWN_S,
            )
        waiter = _Waiter(next(self._arrivals))
        queue.append(waiter)
        try:
            async with asyncio.timeout(self.limits.wait_s):
                await asyncio.shield(waiter.granted)
        except BaseException as exc:
            if waiter.granted.done():
                # Granted as the wait ended: a timeout keeps the slot, a
                # cancelled request gives it back.
                if isinstance(exc, TimeoutError):
                    return
                self.release(key)
                raise
            waiter.granted.cancel()
            self._forget(key, waiter)
            if not isinstance(exc, TimeoutError):
                raise
            if self.running(key) >= self.limits.per_client:
                raise TooManyRequests(
                    f"This client's own requests held its {self.limits.per_client} slots for "
                    f"{self.limits.wait_s:g} s; send fewer at once",
                    retry_after=_RETRY_OWN_S,
                ) from None
            raise ServiceUnavailable(
                f"The gateway was busy for {self.limits.wait_s:g} s; try again shortly",
                retry_after=_RETRY_BUSY_S,
            ) from None

    def slot(self, key: str) -> Slot:
        return Slot(self, key)


class Slot:
    """One request's slot: ``async with`` holds it; :meth:`idle` lends it back."""

    def __init__(self, share: FairShare, key: str) -> None:
        self._share, self.key = share, key
        self._held = False

    async def __aenter__(self) -> Slot:
        await self._share.acquire(self.key)
        self._held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._held:
            self._held = False
            self._share.release(self.key)

    @asynccontextmanager
    async def idle(self) -> AsyncIterator[None]:
        """Give the slot back while the body waits for something (a longpoll with
        nothing to say), and take one again, fairly, for the work after it."""
        if not self._held:
            yield
            return
        self._held = False
        self._share.release(self.key)
        yield  # a failure or cancellation here leaves no slot to give back
        await self._share.acquire(self.key)
        self._held = True
