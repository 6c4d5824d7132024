"""Replicate one SQLite file into another, printing progress; the parent test kills it.

Usage: python -m tests.sync.replicate_child SOURCE TARGET BATCH_SIZE
Prints ``written <n>`` after every batch (flushed), checkpointing every batch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sync.replication import Progress, replicate
from tests.sync.replication_support import open_sqlite


def _print(progress: Progress) -> None:
    print(f"written {progress.docs_written}", flush=True)


async def _main(source_path: str, target_path: str, batch_size: int) -> None:
    source = await open_sqlite(Path(source_path))
    target = await open_sqlite(Path(target_path))
    try:
        await replicate(source, target, batch_size=batch_size, checkpoint_interval=0,
                        on_progress=_print)
        print("done", flush=True)
    finally:
        await source.close()
        await target.close()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
