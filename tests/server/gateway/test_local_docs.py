"""``_local`` documents (replication checkpoints) belong to the credential that wrote them.

The attack this closes: an officer of the station read another device's
checkpoint (its id is in the access log), raised its ``source_last_seq``, and
that device's next ``beatsync sync`` pulled nothing and missed every record
written since, with exit 0. Now each device, and each officer using a
password, has its own namespace of ``_local`` ids.
"""

from __future__ import annotations

from typing import Any

from tests.server import conftest as fixtures
from tests.server.conftest import District, basic, bearer, store_of

CHECKPOINT = "/station-alpha/_local/replication-id-of-dev-so-alpha"

# Every test here runs on the embedded backend and over CouchDB (pouchdb-server).
backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both


async def _json(answer: Any) -> Any:
    return answer.status, await answer.json()


async def test_another_credential_cannot_read_overwrite_or_delete_a_checkpoint(
    client: Any, district: District
) -> None:
    victim = bearer(district, "dev-so-alpha")
    status, put = await _json(
        await client.put(CHECKPOINT, json={"source_last_seq": 40}, headers=victim)
    )
    assert (status, put["id"], put["rev"]) == (201, CHECKPOINT.split("/", 2)[2], "0-1")

    for other in (bearer(district, "dev-bo-one"), basic("so-alpha"), basic("bo-one")):
        assert (await client.get(CHECKPOINT, headers=other)).status == 404
        deleted = await client.delete(CHECKPOINT + "?rev=0-1", headers=other)
        assert deleted.status == 404
        # Writing "the same" id makes the caller's own checkpoint, not the victim's.
        status, own = await _json(
            await client.put(CHECKPOINT, json={"source_last_seq": 10**6}, headers=other)
        )
        assert (status, own["rev"]) == (201, "0-1")

    status, mine = await _json(await client.get(CHECKPOINT, headers=victim))
    assert status == 200
    assert (mine["_id"], mine["_rev"], mine["source_last_seq"]) == (
        "_local/replication-id-of-dev-so-alpha",
        "0-1",
        40,
    )
    # Four owners, four documents: nothing shared in the store.
    store = await store_of(client)
    owners = ["device-dev-so-alpha", "device-dev-bo-one", "officer-so-alpha", "officer-bo-one"]
    for owner in owners:
        stored = await store.get_local(f"_local/{owner}:replication-id-of-dev-so-alpha")
        assert stored["source_last_seq"] == (40 if owner == "device-dev-so-alpha" else 10**6)


async def test_checkpoint_writes_are_counted_in_the_device_status(
    client: Any, district: District
) -> None:
    device = bearer(district, "dev-so-alpha")
    await client.put(CHECKPOINT, json={"source_last_seq": 1}, headers=device)
    await client.put(CHECKPOINT, json={"_rev": "0-1", "source_last_seq": 2}, headers=device)
    assert (await client.delete(CHECKPOINT + "?rev=0-2", headers=device)).status == 200
    status, answer = await _json(await client.get("/_beatsync/devices", headers=basic("central")))
    assert status == 200
    rows = {row["device_id"]: row for row in answer["devices"]}
    assert rows["dev-so-alpha"]["checkpoint_writes"] == 3
    assert rows["dev-so-alpha"]["last_checkpoint_at"] is not None
    assert rows["dev-bo-one"]["checkpoint_writes"] == 0
