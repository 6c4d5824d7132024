"""The ``field_edits`` of ``GET /_beatsync/audit?db=``: one page of a station's
device journals, each entry marked with whether its revision reached the
gateway, and the breaks in the journals' hash chains on that page.

Paged by journal id (``journal-<device>-<seq:010d>``, so a page is a run of
one device's entries after another's, in order), ``limit`` at a time after
``journal_after``; whether each entry's revision reached the gateway is one
indexed audit lookup of that page's revisions (never the whole log). A
chain is checked across the page's edge: the first device's entry before
the page (the last one it has there) is read too, so a page does not
report the entries of earlier pages as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from server.state.interface import GatewayState
from sync import journal
from sync.database import Database, Doc
from sync.errors import BadRequest

__all__ = ["JOURNAL_PREFIX", "field_edits_page"]

JOURNAL_PREFIX: Final = journal.ID_PREFIX
_END: Final = JOURNAL_PREFIX + "\ufff0"


async def _page(store: Database, after: str | None, limit: int) -> tuple[list[Doc], bool]:
    """Up to ``limit`` journal entries after ``after``, and whether more follow."""
    result = await store.all_docs(
        startkey=after or JOURNAL_PREFIX, endkey=_END, include_docs=True, limit=limit + 2
    )
    docs = [
        row["doc"]
        for row in result["rows"]
        if isinstance(row.get("doc"), dict) and row["id"] != after
    ]
    return docs[:limit], len(docs) > limit


async def _before(store: Database, first: Doc) -> Doc | None:
    """The entry the first device has just before ``first`` (None: ``first`` is its first)."""
    device, seq = str(first.get("device_id")), int(first.get("seq", 0))
    if seq <= 1:
        return None
    prefix = f"{JOURNAL_PREFIX}{device}-"
    result = await store.all_docs(
        startkey=f"{prefix}{seq - 1:010d}",
        endkey=prefix,
        descending=True,
        include_docs=True,
        limit=1,
    )
    rows = [row["doc"] for row in result["rows"] if isinstance(row.get("doc"), dict)]
    return rows[0] if rows else None


def _breaks(entries: Sequence[Doc], before: Doc | None) -> list[dict[str, Any]]:
    checked = [before, *entries] if before is not None else list(entries)
    skip = (str(before.get("device_id")), int(before.get("seq", 0))) if before else None
    return [
        {"device_id": b.device_id, "seq": b.seq, "reason": b.reason}
        for b in journal.verify_chain(checked)
        if (b.device_id, b.seq) != skip
    ]


async def field_edits_page(
    state: GatewayState, store: Database, db: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    """``field_edits``, ``chain_breaks`` and ``next_journal_after`` (None: the last page)."""
    if after is not None and not after.startswith(JOURNAL_PREFIX):
        raise BadRequest(f"journal_after must be a journal entry id ({JOURNAL_PREFIX}...)")
    entries, more = await _page(store, after, limit)
    revs = [(str(e.get("record_id")), str(e.get("rev"))) for e in entries]
    reached = await state.audited(db, revs) if revs else set()
    before = await _before(store, entries[0]) if entries else None
    return {
        "field_edits": [
            {
                "device_id": e.get("device_id"),
                "seq": e.get("seq"),
                "record_id": e.get("record_id"),
                "record_type": e.get("record_type"),
                "rev": e.get("rev"),
                "parent_rev": e.get("parent_rev"),
                "action": e.get("action"),
                "at": e.get("at"),
                "author": e.get("updated_by"),
                "reached_gateway": rev in reached,
            }
            for e, rev in zip(entries, revs, strict=True)
        ],
        "chain_breaks": _breaks(entries, before),
        "next_journal_after": entries[-1]["_id"] if more else None,
    }
