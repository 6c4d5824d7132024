"""The device's offline edit journal: every edit, in order, hash-chained.

CouchDB replication carries only leaf bodies, so three offline edits of one
complaint arrive at the centre as one revision. The journal keeps the rest:
each edit a device makes adds a ``journal_entry`` document (replicated like any
record) naming the record, the new and parent revs, who and when, and a
SHA-256 over all of that plus the previous entry's hash. The centre walks the
chain per device; a missing, reordered or altered entry breaks it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.revid import canonical_json, user_fields

__all__ = [
    "ID_PREFIX",
    "JOURNAL_TYPE",
    "ChainBreak",
    "entry_hash",
    "entry_id",
    "is_entry_id",
    "next_entry",
    "verify_chain",
]

JOURNAL_TYPE = "journal_entry"
ID_PREFIX = "journal-"  # every entry's id starts so; no record's does (write policy)
JOURNAL_SCHEMA_VERSION = 1
_UNHASHED = ("hash", "signature")


@dataclass(frozen=True, slots=True)
class ChainBreak:
    device_id: str
    seq: int
    reason: str


def entry_id(device_id: str, seq: int) -> str:
    """Zero-padded so ``_all_docs`` lists a device's entries in order."""
    return f"{ID_PREFIX}{device_id}-{seq:010d}"


def is_entry_id(doc_id: object) -> bool:
    """Whether ``doc_id`` names a journal entry (which travels with its record)."""
    return isinstance(doc_id, str) and doc_id.startswith(ID_PREFIX)


def entry_hash(entry: Mapping[str, Any]) -> str:
    body = {key: value for key, value in user_fields(entry).items() if key not in _UNHASHED}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def next_entry(
    prev: Mapping[str, Any] | None,
    *,
    device_id: str,
    record_id: str,
    record_type: str,
    rev: str,
    parent_rev: str | None,
    action: str,
    at: str,
    envelope: Mapping[str, Any],
) -> dict[str, Any]:
    """The entry that follows ``prev`` (``None`` for a device's first edit)."""
    seq = 1 if prev is None else int(prev["seq"]) + 1
    entry: dict[str, Any] = {
        **envelope,
        "_id": entry_id(device_id, seq),
        "type": JOURNAL_TYPE,
        "schema_version": JOURNAL_SCHEMA_VERSION,
        "device_id": device_id,
        "seq": seq,
        "record_id": record_id,
        "record_type": record_type,
        "rev": rev,
        "parent_rev": parent_rev,
        "action": action,
        "at": at,
        "prev_hash": None if prev is None else prev["hash"],
    }
    entry["hash"] = entry_hash(entry)
    return entry


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> list[ChainBreak]:
    """Every break in every device's chain, ordered by device and seq; ``[]`` if intact."""
    by_device: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_device[str(entry.get("device_id"))].append(entry)
    breaks: list[ChainBreak] = []
    for device_id in sorted(by_device):
        expected_seq, prev_hash = 1, None
        for entry in sorted(by_device[device_id], key=lambda e: int(e.get("seq", 0))):
            seq = int(entry.get("seq", 0))
            reasons = []
            if seq != expected_seq:
                reasons.append(f"entries {expected_seq}..{seq - 1} are missing")
            elif entry.get("prev_hash") != prev_hash:
                reasons.append("prev_hash does not match the entry before")
            if entry.get("hash") != entry_hash(entry):
                reasons.append("hash does not match the entry's content")
            breaks.extend(ChainBreak(device_id, seq, reason) for reason in reasons)
            expected_seq, prev_hash = seq + 1, entry.get("hash")
    return breaks
