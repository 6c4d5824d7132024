"""Two encrypted replicas syncing: conflicts, retries without duplicates, no network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from field_client.errors import DeviceRevoked, Offline, SyncStopped
from field_client.home import KEY_FILE
from field_client.replica import FieldReplica
from field_client.reports import SyncProgress
from sync import journal
from sync.errors import Forbidden, ServiceUnavailable, Unauthorized
from sync.http import HttpDatabase
from sync.replication import ReplicationError, RetryPolicy
from tests.field_client.support import PASSPHRASE, complaint, visit, visitor
from tests.sync.http.flaky import Fault, Flaky

_NO_WAIT = RetryPolicy(base_delay=0.0, max_delay=0.0, max_retries=2)


async def _other(tmp_path: Path, name: str = "hub") -> FieldReplica:
    return await FieldReplica.create(
        tmp_path / name,
        PASSPHRASE,
        officer_id="so.verma",
        station_id="kotwali",
        beat_id="beat-3",
        role="station_officer",
    )


async def test_sync_both_ways_then_concurrent_edits_show_as_a_conflict(
    replica: FieldReplica, tmp_path: Path
) -> None:
    hub = await _other(tmp_path)
    try:
        doc_id, _ = await replica.save_record(complaint())
        await replica.save_record(visitor())
        await hub.save_record(visit())
        assert (await replica.status()).pending_records == 2
        report = await replica.sync(hub.db)
        assert report.refused == ()
        assert (report.pushed, report.pulled) == (2, 1)  # records, not their journal entries
        status = await replica.status()
        assert (status.pending_records, status.conflicts) == (0, ())
        assert status.records == {"complaint": 1, "visitor_entry": 1, "verification_visit": 1}
        assert status.last_sync_at is not None

        mine, theirs = await replica.get_record(doc_id), await hub.get_record(doc_id)
        await replica.save_record({**mine, "description": "Edited on the officer's tablet."})
        await hub.save_record({**theirs, "description": "Edited at the station desk."})
        await replica.sync(hub.db)
        [conflict] = (await replica.status()).conflicts
        assert conflict.record_id == doc_id
        assert conflict.record_type == "complaint"
        assert (await hub.status()).conflicts == (conflict,)
        # Both devices' journals reached both replicas, each chain intact.
        entries = await hub.journal()
        assert len(entries) == 5  # 3 edits on the tablet, 2 at the desk
        assert journal.verify_chain(entries) == []
    finally:
        await hub.close()


async def test_sync_retried_after_a_dropped_connection_duplicates_nothing(
    replica: FieldReplica, tmp_path: Path
) -> None:
    hub = await _other(tmp_path)
    try:
        ids = {(await replica.save_record(complaint(f"Complaint {n}.")))[0] for n in range(30)}
        # The link is down for good: the run gives up, and nothing counts as synced.
        down = Flaky(hub.db, [Fault("bulk_docs", 1, ConnectionResetError("no link"), times=99)])
        with pytest.raises(Offline):
            await replica.sync(down, retry=_NO_WAIT)
        assert (await replica.status()).pending_records == 30
        # The write lands but its answer is lost: the replicator retries the batch.
        lost = Flaky(hub.db, [Fault("bulk_docs", 1, ConnectionResetError("dropped"), after=True)])
        await replica.sync(lost, retry=_NO_WAIT)
        # And once more over a good link, as an officer retrying by hand would.
        await replica.sync(hub.db)
        records = await hub.list_records("complaint")
        assert [d["_id"] for d in records if d["_id"] in ids] == [d["_id"] for d in records]
        assert len(records) == 30
        assert (await hub.db.info())["doc_count"] == 60  # 30 records + 30 journal entries
        assert (await replica.status()).pending_records == 0
    finally:
        await hub.close()


async def test_no_network_says_so_and_keeps_everything(replica: FieldReplica) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await replica.save_record(complaint())
    seq = (await replica.db.info())["update_seq"]
    async with HttpDatabase(f"http://127.0.0.1:{port}/station-kotwali") as nowhere:
        with pytest.raises(Offline) as caught:
            await replica.sync(nowhere, retry=_NO_WAIT)
    assert isinstance(caught.value, ServiceUnavailable)
    assert "beatsync sync" in caught.value.reason
    assert caught.value.reason.startswith("No connection")
    status = await replica.status()
    assert (status.pending_records, status.last_sync_at) == (1, None)
    assert (await replica.db.info())["update_seq"] == seq


async def test_a_server_in_trouble_is_not_called_no_connection(
    replica: FieldReplica, tmp_path: Path
) -> None:
    # A 503 from a reachable server (its CouchDB is down, say) asks the officer
    # for patience and the IT cell, not for a signal they already have.
    hub = await _other(tmp_path)
    try:
        await replica.save_record(complaint())
        trouble = ServiceUnavailable("CouchDB is unavailable", retry_after=0)
        broken = Flaky(hub.db, [Fault("revs_diff", 0, trouble, times=99)])
        with pytest.raises(Offline) as caught:
            await replica.sync(broken, retry=_NO_WAIT)
        assert "having trouble (HTTP 503: CouchDB is unavailable)" in caught.value.reason
        assert "IT cell" in caught.value.reason
        assert (await replica.status()).pending_records == 1
    finally:
        await hub.close()


@pytest.mark.parametrize(
    ("method", "words"),
    [
        # Push first: the server is the target; a pull's source.
        ("bulk_docs", "The server does not allow this device to sync (403 forbidden: no writes)"),
        ("changes", "The server does not allow this device to sync (403 forbidden: no writes)"),
    ],
)
async def test_a_refusal_is_told_in_the_officers_words(
    replica: FieldReplica, tmp_path: Path, method: str, words: str
) -> None:
    hub = await _other(tmp_path)
    try:
        await replica.save_record(complaint())
        refusing = Flaky(hub.db, [Fault(method, 1, Forbidden("no writes"))])
        with pytest.raises(SyncStopped) as caught:
            await replica.sync(refusing, retry=_NO_WAIT)
        assert caught.value.reason.startswith(words)
        assert "Ask the district office" in caught.value.reason
        assert isinstance(caught.value.__cause__, ReplicationError)
    finally:
        await hub.close()


async def test_a_revocation_is_read_from_the_cause_and_wipes(
    replica: FieldReplica, tmp_path: Path
) -> None:
    hub = await _other(tmp_path)
    try:
        await replica.save_record(complaint())
        revoked = Unauthorized("revoked", error="device_revoked")
        with pytest.raises(DeviceRevoked):
            await replica.sync(Flaky(hub.db, [Fault("revs_diff", 1, revoked)]), retry=_NO_WAIT)
        assert not (replica.home / KEY_FILE).exists()
    finally:
        await hub.close()


async def test_one_record_count_in_status_sync_and_its_progress_also_after_a_cut(
    replica: FieldReplica, tmp_path: Path
) -> None:
    """Issue 12, friction 4: status said "3 record change(s)", sync "sent 6"
    (journal entries), and after a cut sync status still counted everything."""
    hub = await _other(tmp_path)
    try:
        for n in range(120):  # 240 documents: a cut after the first batch of 100
            await replica.save_record(complaint(f"Complaint {n}."))
        assert (await replica.status()).pending_records == 120
        cut = Flaky(hub.db, [Fault("bulk_docs", 2, ConnectionResetError("no signal"), times=99)])
        seen: list[SyncProgress] = []
        with pytest.raises(Offline):
            await replica.sync(cut, retry=_NO_WAIT, on_progress=seen.append)
        at_hub = len(await hub.list_records("complaint"))
        assert 0 < at_hub < 120
        pushes = [p for p in seen if p.direction == "push"]
        assert (pushes[-1].records, pushes[-1].total) == (at_hub, 120)
        # What the cut sync sent no longer waits; exactly the rest does.
        assert (await replica.status()).pending_records == 120 - at_hub
        seen.clear()
        report = await replica.sync(hub.db, on_progress=seen.append)
        assert report.pushed == 120 - at_hub
        assert [p.total for p in seen if p.direction == "push"][-1] == 120 - at_hub
        assert (await replica.status()).pending_records == 0
        back = await _other(tmp_path, "another")
        try:
            assert (await back.sync(hub.db)).pulled == 120  # records received, not documents
        finally:
            await back.close()
    finally:
        await hub.close()
