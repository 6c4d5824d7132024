"""A sync started from the browser: a task beside the pages, and what it has done so far.

The page that shows it refreshes itself (no JavaScript needed) and reads
this object; the CLI's progress bars read the same ``Progress`` callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass, field

from field_client.errors import DeviceRevoked, NotEnrolled, Offline
from field_client.replica import FieldReplica
from field_client.reports import SyncProgress, SyncReport
from sync.errors import CouchError

__all__ = ["Direction", "SyncJob", "SyncState"]


class SyncState(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    OFFLINE = "offline"
    FAILED = "failed"
    REVOKED = "revoked"


@dataclass
class Direction:
    """Records sent or received so far, as ``status`` counts them waiting."""

    done: int = 0
    total: int | None = None  # known for sending only


@dataclass
class SyncJob:
    state: SyncState = SyncState.RUNNING
    push: Direction = field(default_factory=Direction)
    pull: Direction = field(default_factory=Direction)
    report: SyncReport | None = None
    reason: str = ""
    _task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.state is SyncState.RUNNING

    def start(self, replica: FieldReplica) -> None:
        self._task = asyncio.create_task(self._run(replica))

    def _progress(self, progress: SyncProgress) -> None:
        side = self.push if progress.direction == "push" else self.pull
        side.done, side.total = progress.records, progress.total

    async def _run(self, replica: FieldReplica) -> None:
        try:
            self.report = await replica.sync(on_progress=self._progress)
            self.push.done, self.pull.done = self.report.pushed, self.report.pulled
            self.push.total, self.pull.total = self.report.pushed, self.report.pulled
            self.state = SyncState.DONE
        except Offline as exc:
            self.state, self.reason = SyncState.OFFLINE, exc.reason
        except DeviceRevoked as exc:
            self.state, self.reason = SyncState.REVOKED, exc.reason
        except (NotEnrolled, CouchError) as exc:
            self.state, self.reason = SyncState.FAILED, exc.reason

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.state, self.reason = SyncState.FAILED, "stopped: the app was locked"
