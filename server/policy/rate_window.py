"""A sliding-window count per key, for the portal's per-address, per-phone
and per-tracking-number limits (logins have their own growing delays in
:mod:`server.policy.throttle`)."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from sync.errors import TooManyRequests

__all__ = ["SlidingWindowLimit"]

_REASON = "Too many attempts; try again later."


class SlidingWindowLimit:
    """At most ``limit`` counted events per key in any ``window_s`` seconds.

    In memory, per gateway process: a restart forgets the counts, which only
    gives a flood one more window.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window = window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._events[key]
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._events[key]
        return times

    def check(self, *keys: str) -> None:
        """``TooManyRequests`` (with the seconds to wait) if any key is at its limit."""
        now = time.monotonic()
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self._limit:
                wait = max(1, int(times[0] + self._window - now) + 1)
                raise TooManyRequests(_REASON, retry_after=wait)

    def count(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._events[key].append(now)
