"""One document a target refuses does not stop the sync, and is not skipped silently.

The source is pouchdb-server holding a revision of generation 10^23 (CouchDB
and PouchDB both store one; pouchdb-server serves it back as ``1e+23-...``,
as PouchDB did in the incident of issue 14). The target, our embedded store,
refuses such a rev with 400 for the whole ``_revs_diff``: the replicator halves
the request down to that one rev, writes the rest, reports the refusal with
its reason, and keeps it in the checkpoint, so every later run offers it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.http import HttpDatabase
from sync.replication import replicate
from sync.replication.replication_id import checkpoint_doc_id
from tests.peers import CouchPeer
from tests.sync.replication.support import all_ids, docs_of, open_sqlite

pytestmark = pytest.mark.pouchdb

POISON_REV = f"{10**23}-{'a' * 32}"


async def test_a_poison_revision_is_isolated_reported_and_offered_again(
    tmp_path: Path, couch_peer: CouchPeer, unique_db_name: str
) -> None:
    source = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    target = await open_sqlite(tmp_path / "device.sqlite")
    try:
        await source.create()
        good = docs_of(20)
        await source.bulk_docs(good[:10])
        await source.bulk_docs(
            [{"_id": "poisoned", "_rev": POISON_REV, "n": -1}], new_edits=False
        )
        await source.bulk_docs(good[10:])

        result = await replicate(source, target, batch_size=25)

        assert result.ok
        assert result.docs_written == 20
        assert await all_ids(target) == sorted(d["_id"] for d in good)
        (refused,) = result.rejected
        assert refused["id"] == "poisoned"
        assert refused["error"] == "bad_request"
        assert "Invalid rev format" in refused["reason"]
        assert result.errors == result.rejected
        assert result.doc_write_failures == 1
        # The checkpoint moved to the end, and remembers the refusal on both sides.
        assert result.end_last_seq == (await source.info())["update_seq"]
        doc_id = checkpoint_doc_id(result.replication_id)
        for side in (source, target):
            assert [r["id"] for r in (await side.get_local(doc_id))["rejected"]] == ["poisoned"]

        await source.bulk_docs(docs_of(3, prefix="later"))
        again = await replicate(source, target)
        assert again.ok
        assert again.docs_written == 3  # the rest of the database still syncs
        assert [r["id"] for r in again.rejected] == ["poisoned"]  # offered again, refused again
    finally:
        await source.delete_database()
        await source.close()
        await target.close()
