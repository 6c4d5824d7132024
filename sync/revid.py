"""Deterministic revision ids for new edits.

The same edit made on two replicas must be the same revision, or every
retried upload and every identical resolution would show up as a spurious
conflict. So a new rev's hash covers exactly what makes the edit: its parent
rev, whether it deletes, the body without CouchDB's ``_`` metadata, and the
digests of its attachments, all in one canonical JSON form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sync.errors import InvalidRev
from sync.revtree import MAX_GENERATION, generation

__all__ = ["canonical_json", "new_rev", "user_fields"]


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: one byte string per JSON value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def user_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The body without CouchDB's ``_``-prefixed metadata fields."""
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def new_rev(
    parent: str | None,
    deleted: bool,
    body: Mapping[str, Any],
    attachment_digests: Iterable[str] = (),
) -> str:
    """``N-<32 hex>`` for an edit of ``parent`` (``None`` for a document's first revision)."""
    gen = 1 if parent is None else generation(parent) + 1
    if gen > MAX_GENERATION:
        raise InvalidRev(f"{parent} has the highest generation a revision may have")
    material = canonical_json([parent, deleted, user_fields(body), sorted(attachment_digests)])
    # MD5 gives CouchDB's 32-hex rev shape; it names content, it guards no secret.
    return f"{gen}-{hashlib.md5(material, usedforsecurity=False).hexdigest()}"
