"""Helpers the replication tests share: open stores, fill them, compare them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from sync.database import Database, Doc
from sync.errors import NotFound

__all__ = ["all_ids", "docs_of", "open_sqlite", "snapshot", "sqlite_stores"]


async def open_sqlite(path: Path) -> Database:
    from sync.sqlite import SQLiteDatabase

    return await SQLiteDatabase.open(path)


@contextlib.asynccontextmanager
async def sqlite_stores(directory: Path, *names: str) -> AsyncIterator[list[Database]]:
    """One SQLite store per name in ``directory``, closed on exit."""
    opened: list[Database] = []
    try:
        for name in names:
            opened.append(await open_sqlite(directory / f"{name}.sqlite"))
        yield opened
    finally:
        for db in opened:
            await db.close()


def docs_of(n: int, prefix: str = "doc", **fields: Any) -> list[Doc]:
    """``n`` small new documents with predictable ids."""
    return [{"_id": f"{prefix}-{i:05d}", "n": i, **fields} for i in range(n)]


async def all_ids(db: Database) -> list[str]:
    """Every document id, deleted ones too (``_all_docs`` leaves those out)."""
    changes = await db.changes(style="all_docs")
    return sorted(row["id"] for row in changes["results"])


async def snapshot(db: Database) -> dict[str, Any]:
    """Per document: the winner with its conflicts, and every leaf with body and history.

    Two replicas that converged give equal snapshots.
    """
    result: dict[str, Any] = {}
    for doc_id in await all_ids(db):
        leaves = await db.open_revs(doc_id, "all", include_revisions=True)
        leaf_docs = sorted(
            (orjson.dumps(item["ok"], option=orjson.OPT_SORT_KEYS) for item in leaves),
        )
        try:
            winner = await db.get(doc_id, conflicts=True, deleted_conflicts=True)
            winning = {
                "rev": winner["_rev"],
                "conflicts": sorted(winner.get("_conflicts", [])),
                "deleted_conflicts": sorted(winner.get("_deleted_conflicts", [])),
                "body": {k: v for k, v in winner.items() if not k.startswith("_")},
            }
        except NotFound as exc:
            winning = {"not_found": exc.reason}
        result[doc_id] = {"winner": winning, "leaves": leaf_docs}
    return result
