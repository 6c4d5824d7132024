"""Write batches to a SQLite store until killed (for the crash-safety test).

Usage: ``python -m tests.sync.sqlite.crash_writer PATH BATCH_SIZE``. Batch ``k``
creates ``BATCH_SIZE`` documents ``b<k>-<i>`` and edits the ``counter``
document to ``k``, all in one ``bulk_docs`` call. Prints ``started`` after
the first batch so the parent knows the kill lands mid-stream. A rerun on
the same file resumes after the last committed batch.
"""

from __future__ import annotations

import asyncio
import sys

from sync.errors import NotFound
from sync.sqlite import SQLiteDatabase


async def main(path: str, batch_size: int) -> None:
    db = await SQLiteDatabase.open(path)
    counter_rev: str | None = None
    batch = 0
    try:  # resume after the last batch a killed run committed
        counter = await db.get("counter")
        counter_rev, batch = counter["_rev"], counter["batch"] + 1
    except NotFound:
        pass
    started = False
    while True:
        docs = [{"_id": f"b{batch:06d}-{i:04d}", "batch": batch, "i": i} for i in range(batch_size)]
        counter = {"_id": "counter", "batch": batch}
        if counter_rev is not None:
            counter["_rev"] = counter_rev
        answers = await db.bulk_docs([*docs, counter])
        assert all(answer.get("ok") for answer in answers), answers
        counter_rev = answers[-1]["rev"]
        if not started:
            print("started", flush=True)
            started = True
        batch += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
