"""Replicate one SQLite file into another, printing progress; the parent test kills it.

Usage: python -m tests.sync.replication.replicate_child SOURCE TARGET BATCH_SIZE FREEZE_AFTER
Prints ``written <n>`` after every batch (flushed), checkpointing every batch;
once ``FREEZE_AFTER`` docs are written it prints ``frozen`` and blocks its
event loop, mid-replication (batches read ahead, a write queued), so the
parent can SIGKILL it at a known point instead of racing a fast child.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from pathlib import Path

from sync.replication import Progress, replicate
from tests.sync.replication.support import open_sqlite


def _report(progress: Progress, freeze_after: int) -> None:
    print(f"written {progress.docs_written}", flush=True)
    if progress.docs_written >= freeze_after:
        print("frozen", flush=True)
        time.sleep(600)  # blocks everything until the parent kills us


async def _main(source_path: str, target_path: str, batch_size: int, freeze_after: int) -> None:
    source = await open_sqlite(Path(source_path))
    target = await open_sqlite(Path(target_path))
    try:
        await replicate(source, target, batch_size=batch_size, checkpoint_interval=0,
                        on_progress=functools.partial(_report, freeze_after=freeze_after))
        print("done", flush=True)
    finally:
        await source.close()
        await target.close()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
