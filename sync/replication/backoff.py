"""Which failures are worth retrying, and how long to wait before each retry.

Delays are exponential with *full jitter* (``random() * min(cap, base * 2**n)``,
the scheme of the AWS Architecture Blog's "Exponential Backoff And Jitter"):
many field devices that lost the same station link come back at random
moments instead of all at once. ``sleep`` and ``random`` are injectable so
tests check the exact delays without waiting for them.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sync.errors import CouchError, RetryLater

__all__ = [
    "BASE_DELAY",
    "MAX_DELAY",
    "MAX_RETRIES",
    "RetryPolicy",
    "is_transient",
]

# First retry waits up to 1 s: long enough for a dropped 2G/3G link to come
# back, short enough that a blip costs the user nothing noticeable.
BASE_DELAY = 1.0
# couch_replicator caps its restart backoff near minutes too; beyond 5 minutes
# a waiting officer would rather see "offline" than a spinner.
MAX_DELAY = 300.0
# One-shot replications give up after this many consecutive failures (about
# 10 minutes of cumulative worst-case waiting): the user then gets an error
# to act on. Continuous replications never give up (they resume from the
# last checkpoint after every failure).
MAX_RETRIES = 10


def is_transient(exc: BaseException) -> bool:
    """Server trouble or a broken link (retry) as opposed to a request that will never work."""
    if isinstance(exc, CouchError):
        return exc.transient
    # asyncio.TimeoutError is TimeoutError (an OSError subclass) since 3.11;
    # ConnectionError is an OSError too. aiohttp's client errors derive from OSError.
    return isinstance(exc, OSError | asyncio.TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = BASE_DELAY
    max_delay: float = MAX_DELAY
    max_retries: int = MAX_RETRIES
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = field(default=_random.random)

    def delay(self, attempt: int, exc: BaseException | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 62))
        delay = self.random() * ceiling
        if isinstance(exc, RetryLater):
            # A 503 or 429 may say how long to stay away (Retry-After); honour it.
            delay = max(delay, min(self.max_delay, exc.retry_after))
        return delay

    def gives_up(self, attempt: int, *, continuous: bool) -> bool:
        """Whether retry number ``attempt`` is one too many."""
        return not continuous and attempt >= self.max_retries
