"""The unlocked replica of one ``beatsync ui`` run, and when it locks again.

The data key lives only in the open :class:`FieldReplica` held here: locking
closes it and drops the reference, so nothing on disk or in this process can
open a record until the passphrase is typed again. The app locks on demand
and after ``idle`` without a request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from field_client.replica import FieldReplica
from field_client.ui import DEFAULT_IDLE_MINUTES
from field_client.ui.syncing import SyncJob

__all__ = ["Session"]

# A tablet left on a desk at the station: a quarter of an hour is long enough
# not to lock during a visit's conversation, short enough to matter.


@dataclass
class Session:
    home: Path
    idle_seconds: float = DEFAULT_IDLE_MINUTES * 60
    replica: FieldReplica | None = None
    last_seen: float = field(default_factory=time.monotonic)
    sync_job: SyncJob | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def unlocked(self) -> bool:
        return self.replica is not None

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self.last_seen

    async def unlock(self, passphrase: str) -> None:
        """Open the replica (``WrongPassphrase`` when it does not open; nothing changes)."""
        async with self._lock:
            if self.replica is None:
                self.replica = await FieldReplica.open(self.home, passphrase)
            self.touch()

    async def lock(self) -> None:
        """Forget the key: a running sync is stopped first (it holds the replica)."""
        async with self._lock:
            if self.sync_job is not None:
                await self.sync_job.cancel()
            replica, self.replica = self.replica, None
            if replica is not None:
                await replica.close()

    async def lock_if_idle(self) -> bool:
        running = self.sync_job is not None and self.sync_job.running
        if self.replica is not None and not running and self.idle_for() >= self.idle_seconds:
            await self.lock()
            return True
        return False
