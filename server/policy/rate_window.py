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

    def take(self, key: str) -> float:
        """Check and count in one step, with no await between: of concurrent
        requests only the limit's worth pass, whereas a check, a write, then
        a count lets every request that checked before the first count in.
        The event's time, to :meth:`give_back` if the work did not happen."""
        self.check(key)
        now = time.monotonic()
        self._events[key].append(now)
        return now

    def give_back(self, key: str, taken: float) -> None:
        times = self._events.get(key)
        if times is not None and taken in times:
            times.remove(taken)
            if not times:
                del self._events[key]
