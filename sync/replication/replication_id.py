"""The replication id: which checkpoints belong to which replication.

CouchDB (``couch_replicator_ids``) and PouchDB (``generateReplicationId``)
both hash the two endpoints and the filter, so the same replication finds its
own ``_local/`` checkpoint again after a restart, and a differently filtered
one does not reuse checkpoints that skipped documents it wants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sync.database import Database, Seq
from sync.revid import canonical_json

__all__ = ["REPLICATION_ID_VERSION", "checkpoint_doc_id", "replication_id"]

# Stored in checkpoint docs as ``replication_id_version``; bump it when the
# inputs below change, so old checkpoints stop matching instead of misleading.
REPLICATION_ID_VERSION = 1


async def replication_id(
    source: Database,
    target: Database,
    *,
    doc_ids: Sequence[str] | None = None,
    selector: Mapping[str, Any] | None = None,
    since: Seq | None = None,
) -> str:
    """32 hex digits naming this (source, target, filter) replication."""
    material: list[Any] = [
        REPLICATION_ID_VERSION,
        await source.identity(),
        await target.identity(),
        sorted(set(doc_ids)) if doc_ids is not None else None,
        selector,  # canonical_json sorts keys, so equal selectors hash equal
    ]
    if since is not None:
        # CouchDB includes an explicit since_seq too: a replication told to
        # start elsewhere must not share checkpoints with one that was not.
        material.append(since)
    # MD5 as in CouchDB: it names a replication, it guards no secret.
    return hashlib.md5(canonical_json(material), usedforsecurity=False).hexdigest()


def checkpoint_doc_id(rep_id: str) -> str:
    return f"_local/{rep_id}"
