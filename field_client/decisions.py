"""The office's decision on a conflict, as a device finds it in the record.

The office's conflict desk decides a conflict by writing one revision that
ends the record's action log with a ``conflict_resolved`` entry whose note is
the reason (:data:`schemas.merge.CONFLICT_RESOLVED`); after the next sync the
device holds that revision, and the CLI and the app show the entry as the
office's decision. Records without an action log carry no decision to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.merge import CONFLICT_RESOLVED

__all__ = ["Decision", "decision_of"]


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
