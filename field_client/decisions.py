"""The office's decision on a conflict, as a device finds it in the record.

The office's conflict desk decides a conflict by writing one revision that
ends the record's action log with a ``conflict_resolved`` entry whose note is
the reason (:data:`schemas.merge.CONFLICT_RESOLVED`); after the next sync the
device holds that revision, and the CLI and the app show the entry as the
office's decision. Records without an action log carry no decision to show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.merge import CONFLICT_RESOLVED
from sync import journal
from sync.database import Database

__all__ = ["Decision", "decided_among", "decision_of"]


@dataclass(frozen=True, slots=True)
class Decision:
    at: str
    by: str
    reason: str


def decision_of(doc: Mapping[str, Any]) -> Decision | None:
    """The office's last decision on this record's conflicts, if it made one."""
    log = doc.get("action_log")
    if not isinstance(log, list):
        return None
    for entry in reversed(log):
        if isinstance(entry, Mapping) and entry.get("action") == CONFLICT_RESOLVED:
            return Decision(
                str(entry.get("at", "")), str(entry.get("by", "")), str(entry.get("note", ""))
            )
    return None


async def decided_among(db: Database, ids: Iterable[str]) -> tuple[dict[str, str], ...]:
    """Those of the records ``ids`` (just received) whose newest revision is the
    office's decision: the entry that ends their action log."""
    keys = sorted(doc_id for doc_id in ids if not journal.is_entry_id(doc_id))
    if not keys:
        return ()
    decided = []
    for row in (await db.all_docs(keys=keys, include_docs=True))["rows"]:
        doc = row.get("doc")
        log = doc.get("action_log") if isinstance(doc, dict) else None
        decision = decision_of({"action_log": log[-1:]}) if isinstance(log, list) else None
        if doc is not None and decision is not None:
            decided.append(
                {"id": doc["_id"], "type": str(doc.get("type")), **dataclasses.asdict(decision)}
            )
    return tuple(decided)
