"""The station hub: device <-> hub <-> district gateway <-> CouchDB (pouchdb-server).

The hub's link to the district goes through :class:`CutProxy`, which drops
it in the middle of the test like a station's internet going down.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from server.config import GatewayConfig
from server.couch.backend import CouchServer
from server.couch.state import CouchGatewayState
from server.gateway.handlers_hub import HUB_IDENTITIES_PATH, station_snapshot
from server.gateway.keys import STORES
from server.hub.app import HubOptions, create_hub_app
from server.hub.enrolment import authorise_hub, enrol_hub
from server.hub.identity_cache import apply_snapshot
from sync.http import HttpDatabase
from sync.replication import RetryPolicy
from tests import peers
from tests.server.couch_support import (
    PASSWORD,
    Device,
    StationPlan,
    couch_gateway,
    couch_server,
    doc_ids,
    hub_config,
    provision,
    running,
    wait_for,
    winners,
)
from tests.server.cut_proxy import CutProxy

# Short cycles so the hub notices the link coming back within the test.
FAST_HUB = HubOptions(
    refresh_s=0.3, retry=RetryPolicy(base_delay=0.1, max_delay=0.5), upstream_timeout_s=5
)


@pytest.fixture(scope="module")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with couch_server(tmp_path_factory.mktemp("couch")) as url:
        yield url


@pytest.fixture
def plan() -> StationPlan:
    return StationPlan(f"hb{uuid4().hex[:8]}")


async def _status(url: str, token: str, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + path, headers={"Authorization": f"Bearer {token}"}) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


def _basic(officer_id: str) -> str:
    return "Basic " + base64.b64encode(f"{officer_id}:{PASSWORD}".encode()).decode()


async def _put_central(gateway: str, db: str, doc: dict[str, Any]) -> str:
    """A central office edit through the district gateway (Basic auth, unsigned)."""
    header = _basic("central")
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{gateway}/{db}/{doc['_id']}", json=doc, headers={"Authorization": header}
        ) as answer,
    ):
        body = await answer.json()
        assert answer.status == 201, body
        return str(body["rev"])


async def test_only_the_authorised_hub_of_a_station_gets_its_identities(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    other = StationPlan(f"hb{uuid4().hex[:8]}")
    await provision(couch_url, plan, other)
    state = CouchGatewayState(CouchServer.from_url(couch_url))
    try:
        async with couch_gateway(couch_url, tmp_path / "gw") as gateway:
            hub = await enrol_hub(tmp_path / "hub", gateway, plan.station_officer, PASSWORD)
            # Enrolled but not yet authorised: refused, like any other device.
            assert (await _status(gateway, hub.token, HUB_IDENTITIES_PATH))[0] == 403
            other_hub = await enrol_hub(tmp_path / "o", gateway, other.station_officer, PASSWORD)
            assert await authorise_hub(state, state, other_hub.device_id) == other.station_id
            assert await authorise_hub(state, state, hub.device_id) == plan.station_id
            device = await Device.open(plan, tmp_path / "d.sqlite")
            try:
                await device.enrol(gateway)
                # An ordinary device of the station: refused.
                assert (await _status(gateway, device.token, HUB_IDENTITIES_PATH))[0] == 403
            finally:
                await device.close()
            status, body = await _status(gateway, hub.token, HUB_IDENTITIES_PATH)
            assert status == 200
            assert body["station"]["id"] == plan.station_id
            assert {o["officer_id"] for o in body["officers"]} == {
                plan.station_officer,
                plan.beat_officer,
            }
            assert all(o["password_hash"].startswith("scrypt$") for o in body["officers"])
            assert all(len(d["token_hash"]) == 64 for d in body["devices"])
            # The other station's hub sees only its own station.
            _, theirs = await _status(gateway, other_hub.token, HUB_IDENTITIES_PATH)
            assert {o["officer_id"] for o in theirs["officers"]} == {
                other.station_officer,
                other.beat_officer,
            }
            # A revoked hub is cut off at once.
            await state.revoke_device(hub.device_id)
            status, body = await _status(gateway, hub.token, HUB_IDENTITIES_PATH)
            assert (status, body["error"]) == (401, "device_revoked")
    finally:
        await state.close()


async def test_apply_snapshot_adds_updates_revokes_and_never_unrevokes(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    from server.gateway.app import open_state

    await provision(couch_url, plan)
    central = CouchGatewayState(CouchServer.from_url(couch_url))
    local = await open_state(GatewayConfig(data_dir=tmp_path))
    try:
        snapshot = await station_snapshot(central, plan.station_id)
        assert await apply_snapshot(local, snapshot) > 0
        assert await apply_snapshot(local, snapshot) == 0  # idempotent
        assert (await local.get_officer(plan.beat_officer)) == (
            await central.get_officer(plan.beat_officer)
        )
        await central.revoke_officer(plan.beat_officer)
        await apply_snapshot(local, await station_snapshot(central, plan.station_id))
        assert (await local.get_officer(plan.beat_officer)).revoked
        # An older snapshot (taken before the revocation) does not bring it back.
        assert await apply_snapshot(local, snapshot) == 0
        assert (await local.get_officer(plan.beat_officer)).revoked
    finally:
        await local.close()
        await central.close()


async def test_multi_hop_with_the_hub_link_cut_and_restored_converges_everywhere(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    await provision(couch_url, plan)
    central_state = CouchGatewayState(CouchServer.from_url(couch_url))
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    device = await Device.open(plan, tmp_path / "device.sqlite")
    lost = await Device.open(plan, tmp_path / "lost.sqlite")
    try:
        async with couch_gateway(couch_url, tmp_path / "gw") as gateway:
            gw_port = int(gateway.rsplit(":", 1)[1])
            async with CutProxy(gw_port) as link:
                hub_dir = tmp_path / "hub"
                credential = await enrol_hub(hub_dir, link.url, plan.station_officer, PASSWORD)
                await authorise_hub(central_state, central_state, credential.device_id)
                await device.enrol(gateway)  # devices enrol at the district
                await lost.enrol(gateway)
                hub_app = create_hub_app(
                    hub_config(hub_dir), plan.station_id, link.url, options=FAST_HUB
                )
                async with running(hub_app) as hub:
                    # The hub learns the station's devices from the centre.
                    async def device_known() -> bool:
                        return (await _status(hub, device.token, "/_beatsync/whoami"))[0] == 200

                    await wait_for(device_known)
                    # The hub enrols nobody and stores no unsigned write: neither
                    # could ever be verified at the centre.
                    async with aiohttp.ClientSession() as session:
                        answer = await session.post(
                            f"{hub}/_beatsync/enrol",
                            json={"officer_id": plan.beat_officer, "password": PASSWORD},
                        )
                        assert answer.status == 403
                        assert "district gateway" in (await answer.json())["reason"]
                        unsigned = device.new_record(77)
                        del unsigned["signature"]
                        answer = await session.put(
                            f"{hub}/{plan.db}/{unsigned['_id']}",
                            json=unsigned,
                            headers={"Authorization": _basic(plan.beat_officer)},
                        )
                        assert answer.status == 403, await answer.text()

                    # Online: device -> hub -> centre, and centre -> hub -> device.
                    first = await device.record(range(10))
                    assert (await device.push(hub)).ok
                    central_doc = {
                        **(await device.store.get(first[0])),
                        "purpose": "central",
                        "created_by": "central",
                        "updated_by": "central",
                    }
                    del central_doc["signature"], central_doc["_rev"]

                    async def first_at_centre() -> bool:
                        return set(first) <= await doc_ids(couch_db)

                    await wait_for(first_at_centre)
                    # The lost device is revoked while the link is up: the hub learns it.
                    await central_state.revoke_device(lost.device_id)

                    async def lost_refused() -> bool:
                        status, body = await _status(hub, lost.token, "/_beatsync/whoami")
                        return status == 401 and body["error"] == "device_revoked"

                    await wait_for(lost_refused)

                    # The station's internet goes down.
                    link.cut()
                    offline = await device.record(range(10, 20))
                    device_edit = await device.edit(first[1], "edited at the station")
                    assert (await device.push(hub)).ok  # the hub authenticates offline
                    assert (await device.pull(hub)).ok

                # The station PC restarts while the link is still down: the cached
                # identities (revocations included) and the records are on its disk.
                hub_app = create_hub_app(
                    hub_config(hub_dir), plan.station_id, link.url, options=FAST_HUB
                )
                async with running(hub_app) as hub:
                    status, body = await _status(hub, lost.token, "/_beatsync/whoami")
                    assert (status, body["error"]) == (401, "device_revoked")
                    offline += await device.record(range(20, 25))
                    assert (await device.push(hub)).ok
                    # Meanwhile the centre edits records too, one the station edited as well.
                    at_centre = await couch_db.get(first[1])
                    at_centre.pop("signature")
                    central_edit = await _put_central(
                        gateway,
                        plan.db,
                        {**at_centre, "purpose": "edited at the centre", "updated_by": "central"},
                    )
                    central_new = await _put_central(
                        gateway, plan.db, {**central_doc, "_id": uuid4().hex}
                    )
                    assert central_new.startswith("1-")
                    await asyncio.sleep(0.5)  # the hub is retrying against a dead link
                    hub_store = await hub_app[STORES].get(plan.station_id)
                    assert not set(offline) & await doc_ids(couch_db)

                    # The link comes back: everything flows both ways, once.
                    link.restore()
                    everything_ids = set(first) | set(offline)

                    async def converged() -> bool:
                        at_centre = await doc_ids(couch_db)
                        at_hub = await doc_ids(hub_store)
                        return everything_ids <= at_centre and at_centre == at_hub

                    await wait_for(converged, attempts=300)
                    assert (await device.pull(hub)).ok
                    assert (await device.push(hub)).ok

                    async def same_winners() -> bool:
                        ids = sorted(await doc_ids(couch_db))
                        return await winners(hub_store, ids) == await winners(couch_db, ids)

                    await wait_for(same_winners, attempts=300)
                    ids = sorted(await doc_ids(couch_db))
                    assert await doc_ids(device.store) == set(ids)
                    expected = await winners(couch_db, ids)
                    assert await winners(device.store, ids) == expected
                    assert await winners(hub_store, ids) == expected
                    # Each record once: the counts match the distinct ids.
                    assert (await couch_db.info())["doc_count"] == len(ids)
                    assert len(ids) == len(everything_ids) + 1
                    # The concurrent edits are a conflict with the same winner everywhere.
                    winner, conflicts = expected[first[1]]
                    assert sorted([winner, *conflicts]) == sorted([device_edit, central_edit])
                    assert link.connections > 0
    finally:
        await device.close()
        await lost.close()
        await couch_db.close()
        await central_state.close()


async def test_a_revoked_hub_stops_serving_without_telling_devices_to_wipe(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    await provision(couch_url, plan)
    central = CouchGatewayState(CouchServer.from_url(couch_url))
    device = await Device.open(plan, tmp_path / "device.sqlite")
    hub_dir = tmp_path / "hub"
    try:
        async with couch_gateway(couch_url, tmp_path / "gw") as gateway:
            credential = await enrol_hub(hub_dir, gateway, plan.station_officer, PASSWORD)
            await authorise_hub(central, central, credential.device_id)
            await device.enrol(gateway)

            def hub_app(upstream: str) -> Any:
                config = hub_config(hub_dir)
                return create_hub_app(config, plan.station_id, upstream, options=FAST_HUB)

            async with running(hub_app(gateway)) as hub:

                async def serving() -> bool:
                    return (await _status(hub, device.token, "/_beatsync/whoami"))[0] == 200

                await wait_for(serving)
                await central.revoke_device(credential.device_id)  # the PC was stolen

                async def shut() -> bool:
                    return (await _status(hub, device.token, "/_beatsync/whoami"))[0] == 503

                await wait_for(shut)
                status, body = await _status(hub, device.token, f"/{plan.db}/_changes")
                assert (status, body["error"]) == (503, "service_unavailable")
                assert "revoked" in body["reason"]
            # Restarted with the district out of reach, it stays shut.
            unreachable = f"http://127.0.0.1:{peers.free_port()}"
            async with running(hub_app(unreachable)) as hub:
                assert (await _status(hub, device.token, "/_beatsync/whoami"))[0] == 503
            # The device itself is fine at the district.
            assert (await _status(gateway, device.token, "/_beatsync/whoami"))[0] == 200
    finally:
        await device.close()
        await central.close()
