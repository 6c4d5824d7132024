"""Login throttling: too many failed logins per officer id or per address → 429."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from sync.errors import TooManyRequests

__all__ = ["LoginThrottle", "TooManyRequests"]

_REASON = "Too many failed logins; try again later."


class LoginThrottle:
    """A sliding window of failure times per key (``officer:<id>``, ``addr:<ip>``).

    In memory, per gateway process: a restart forgets failures, which only
    gives an attacker one more window; the KDF cost bounds guessing anyway.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, *keys: str) -> None:
        """Raise ``TooManyRequests`` if any key is locked out."""
        now = time.monotonic()
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self._max:
                wait = max(1, int(times[0] + self._window - now) + 1)
                raise TooManyRequests(_REASON, retry_after=wait)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)

    def succeeded(self, officer_key: str) -> None:
        # Only the officer's count resets: a shared address (a station NAT) keeps
        # counting failures of other ids.
        self._failures.pop(officer_key, None)
