"""District-wide switches that the write path reads on every request, cached.

``refuse_unsigned`` (``beatsync-server district unsigned-writes``) is read
before every write; reading it from the state each time cost a SQLite query,
or a CouchDB round trip per request on the CouchDB backend. It changes a few
times in a district's life, so a gateway keeps it for ``ttl_s``: a change
written through this object applies at once, one written by another process
(the admin CLI, another gateway) within ``ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from server.state.interface import Settings

__all__ = ["REFUSE_UNSIGNED", "SETTINGS_TTL_S", "DistrictSettings"]

REFUSE_UNSIGNED: Final = "refuse_unsigned"
# Long enough that a busy gateway reads the setting a few times a minute at
# most; short enough that an administrator's change is felt before they can
# walk to a device and try it.
SETTINGS_TTL_S: Final = 5.0


class DistrictSettings:
    def __init__(
        self,
        settings: Settings,
        *,
        ttl_s: float = SETTINGS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._ttl_s = ttl_s
        self._clock = clock
        self._refuse_unsigned: tuple[float, bool] | None = None  # (read at, value)

    async def refuse_unsigned(self) -> bool:
        """Whether writes without a device signature are refused."""
        cached = self._refuse_unsigned
        now = self._clock()
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        value = await self._settings.get_setting(REFUSE_UNSIGNED, "false") == "true"
        self._refuse_unsigned = (now, value)
        return value

    async def set_refuse_unsigned(self, refuse: bool) -> None:
        await self._settings.set_setting(REFUSE_UNSIGNED, "true" if refuse else "false")
        self._refuse_unsigned = (self._clock(), refuse)
