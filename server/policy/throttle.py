"""Password-login throttling: growing delays per officer, per address and per both.

A flat lockout of an address (five failures, then five minutes of 429) shut
out a whole station behind one NAT, or the whole district behind a load
balancer, and anyone could lock a named officer out. Instead every failure
counts against three keys, each with its own :class:`~server.config.LoginLimit`:

* the officer *at* the address: the guesser himself, slowed quickly;
* the officer from anywhere: guessing from many addresses, slowed more gently
  and with a low cap, so a stranger can delay an officer by at most
  ``max_s`` per attempt, never lock him out; an address the officer has
  logged in from before (a *known* address) skips this key, so the officer's
  own desk keeps working while strangers guess;
* the address for every officer: password spraying, with enough free
  failures that a station's officers mistyping now and then never notice.

Past a key's free failures each failure doubles the delay before the next
attempt (``base_s``, ``2 * base_s``, ... up to ``max_s``), counted from that
failure; an attempt refused with 429 is not a failure, so waiting it out is
enough. A key quiet for ``forget_s`` is forgotten. Device tokens never pass
through here: a throttled address still syncs every device behind it.

In memory, per gateway process: a restart forgets failures, which only gives
a guesser a few more free attempts; the KDF's cost bounds guessing anyway.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from server.config import DEFAULT_LOGIN_LIMITS, LoginLimit, LoginLimits
from sync.errors import TooManyRequests

__all__ = ["LoginThrottle", "TooManyRequests"]

# Past this many tracked keys, forgotten ones are dropped before adding more,
# so made-up officer ids and addresses cannot grow the gateway's memory
# without bound (a live key holds tens of bytes).
_MAX_KEYS = 100_000


def _delay(limit: LoginLimit, failures: int) -> float:
    if failures < limit.free:
        return 0.0
    return min(limit.max_s, limit.base_s * 2.0 ** min(failures - limit.free, 64))


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """:meth:`check` before verifying a password; :meth:`failed` or :meth:`succeeded` after."""

    def __init__(
        self,
        limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._failures: dict[tuple[str, ...], _Failures] = {}
        self._known: dict[tuple[str, str], float] = {}  # (officer, address) -> until

    def _keys(self, officer_id: str, client: str) -> list[tuple[tuple[str, ...], LoginLimit]]:
        limits = self._limits
        keys: list[tuple[tuple[str, ...], LoginLimit]] = [
            (("pair", officer_id, client), limits.officer_at_address)
        ]
        if self._known.get((officer_id, client), 0.0) <= self._clock():
            keys.append((("officer", officer_id), limits.officer))
        keys.append((("address", client), limits.address))
        return keys

    def wait_s(self, officer_id: str, client: str) -> float:
        """Seconds before this officer may try a password from this address (0: now)."""
        now = self._clock()
        wait = 0.0
        for key, limit in self._keys(officer_id, client):
            seen = self._failures.get(key)
            if seen is not None and now - seen.last < limit.forget_s:
                wait = max(wait, seen.last + _delay(limit, seen.count) - now)
        return wait

    def check(self, officer_id: str, client: str) -> None:
        """Raise ``TooManyRequests`` (with ``retry_after``) while a delay runs."""
        wait = self.wait_s(officer_id, client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"Too many failed logins; try again in {seconds} seconds.", retry_after=seconds
            )

    def failed(self, officer_id: str, client: str) -> None:
        now = self._clock()
        if len(self._failures) >= _MAX_KEYS:
            self._forget(now)
        for key, limit in self._keys(officer_id, client):
            seen = self._failures.get(key)
            if seen is None or now - seen.last >= limit.forget_s:
                self._failures[key] = _Failures(1, now)
            else:
                seen.count += 1
                seen.last = now

    def succeeded(self, officer_id: str, client: str) -> None:
        # The address's own count stays: behind a station NAT one officer's
        # success says nothing about another id being sprayed from there.
        self._failures.pop(("pair", officer_id, client), None)
        self._failures.pop(("officer", officer_id), None)
        now = self._clock()
        if len(self._known) >= _MAX_KEYS:
            self._known = {k: until for k, until in self._known.items() if until > now}
        self._known[(officer_id, client)] = now + self._limits.known_address_s

    def _forget(self, now: float) -> None:
        forget = max(
            self._limits.officer_at_address.forget_s,
            self._limits.officer.forget_s,
            self._limits.address.forget_s,
        )
        live = {k: f for k, f in self._failures.items() if now - f.last < forget}
        if len(live) >= _MAX_KEYS:
            # Still full of live keys (a flood of made-up ids): keep the newest half.
            newest = sorted(live.items(), key=lambda item: item[1].last)[_MAX_KEYS // 2 :]
            live = dict(newest)
        self._failures = live
