"""A station hub merges its own station's conflicts, as the district would.

Two field replicas edit the same complaints differently and sync at the hub
(real SQLite files, the real hub app, a real district gateway on loopback,
the embedded store). The hub merges what the rules merge, writing the
district's own deterministic revisions, and leaves the rest in conflict; the
district then queues what the hub left, and both hold the same revisions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from field_client.errors import SyncStopped
from field_client.remote import connect
from field_client.replica import FieldReplica
from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import MERGER, STATE, STORES
from server.hub.app import HubOptions, create_hub_app
from server.hub.enrolment import authorise_hub, enrol_hub
from sync.database import Database
from sync.replication import RetryPolicy
from tests.field_client.support import PASSPHRASE, complaint
from tests.server.conflicts.devices import edit, live_leaves
from tests.server.conflicts.support import NAMES
from tests.server.conftest import PASSWORD, District
from tests.server.couch_support import hub_config, running, wait_for

FAST_HUB = HubOptions(
    refresh_s=0.3,
    retry=RetryPolicy(base_delay=0.1, max_delay=0.5),
    upstream_timeout_s=5,
    merge=True,
)


async def _leaves(db: Database, doc_id: str) -> tuple[list[str], list[str]]:
    """(live leaves, every leaf) of ``doc_id`` in ``db``."""
    rows = await db.open_revs(doc_id, "all", include_revisions=False)
    docs = [r["ok"] for r in rows if "ok" in r]
    live = sorted(d["_rev"] for d in docs if not d.get("_deleted"))
    return live, sorted(d["_rev"] for d in docs)


async def _sync(replica: FieldReplica, token: str, hub: str) -> None:
    at_hub = connect(hub, "station-alpha", token)

    async def synced() -> bool:
        try:
            report = await replica.sync(at_hub)
        except SyncStopped:
            return False  # 401: the hub has not learnt this device yet
        assert report.refused == ()
        return True

    try:
        await wait_for(synced)
    finally:
        await at_hub.close()


async def _device(home: Path, officer: str, gateway: str) -> tuple[FieldReplica, str]:
    # A station officer's device records for the beat chosen when it is set up.
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer, station_id="unassigned", beat_id="alpha-one"
    )
    await replica.enrol(gateway, password=PASSWORD, device_name=home.name)
    token = replica._keyring.open_secret("token", str(replica.settings.sealed_token))
    return replica, token


@dataclass
class Station:
    """The district, its hub and two field devices of station alpha, all running."""

    district: web.Application
    hub_app: web.Application
    hub: str  # the hub's URL
    devices: dict[str, tuple[FieldReplica, str]]  # officer -> (replica, token)

    async def sync(self, officer: str) -> None:
        await _sync(*self.devices[officer], self.hub)


@asynccontextmanager
async def _station(
    config: GatewayConfig, tmp_path: Path, options: HubOptions
) -> AsyncIterator[Station]:
    district_app = create_app(config)  # merge_conflicts off: the tests run the district's merge
    async with running(district_app) as gateway:
        state = district_app[STATE]
        credential = await enrol_hub(tmp_path / "hub", gateway, "so-alpha", PASSWORD)
        await authorise_hub(state, state, credential.device_id)
        devices = {o: await _device(tmp_path / o, o, gateway) for o in ("bo-one", "so-alpha")}
        hub_app = create_hub_app(hub_config(tmp_path / "hub"), "alpha", gateway, options=options)
        try:
            async with running(hub_app) as hub:
                yield Station(district_app, hub_app, hub, devices)
        finally:
            for replica, _ in devices.values():
                await replica.close()


async def test_the_hub_merges_as_the_district_and_leaves_the_rest_for_its_queue(
    district: District, config: GatewayConfig, tmp_path: Path
) -> None:
    async with _station(config, tmp_path, FAST_HUB) as station:
        beat, sho = station.devices["bo-one"][0], station.devices["so-alpha"][0]
        mergeable, _ = await beat.save_record(complaint(officer_id="bo-one"))
        named, _ = await beat.save_record(complaint("A bicycle.", officer_id="bo-one"))
        await station.sync("bo-one")
        await station.sync("so-alpha")
        # Offline, each device edits both complaints its own way.
        await edit(beat, mergeable, note="Visited the bus stand.", description="Two men.")
        await edit(sho, mergeable, note="Called the complainant.", complainant__phone="9123456780")
        await edit(beat, named, complainant__name=NAMES[0])
        await edit(sho, named, complainant__name=NAMES[1])
        await station.sync("bo-one")
        await station.sync("so-alpha")

        at_hub = await station.hub_app[STORES].get("alpha")
        central = await station.district[STORES].get("alpha")

        async def hub_merged() -> bool:
            return len((await _leaves(at_hub, mergeable))[0]) == 1

        await wait_for(hub_merged)
        (merged_rev,), hub_all = await _leaves(at_hub, mergeable)
        merged = await at_hub.get(mergeable)
        assert merged["description"] == "Two men."
        assert merged["complainant"]["phone"] == "9123456780"
        notes = [e.get("note") for e in merged["action_log"]]
        assert {"Visited the bus stand.", "Called the complainant."} <= set(notes)
        # The names differ: left in conflict at the hub, and queued nowhere there.
        assert len((await _leaves(at_hub, named))[0]) == 2
        assert await station.hub_app[STATE].open_conflicts("alpha", [mergeable, named]) == {}

        async def relayed() -> bool:
            return len((await _leaves(central, named))[0]) == 2

        await wait_for(relayed)
        report = await station.district[MERGER].merge_station("alpha")
        assert report.queued == [named]
        queued = await station.district[STATE].open_conflicts("alpha", [mergeable, named])
        assert set(queued) == {named}
        # The district's merge of the same leaves is the hub's, revision for
        # revision, and merging again writes nothing.
        assert await _leaves(central, mergeable) == ([merged_rev], hub_all)
        again = await station.district[MERGER].merge_station("alpha")
        assert (again.merged, again.queued) == ([], [])
        assert await _leaves(at_hub, mergeable) == ([merged_rev], hub_all)
        # The devices pull the hub's merge.
        await station.sync("bo-one")
        assert await live_leaves(beat, mergeable) == [merged_rev]


async def test_no_merge_leaves_every_conflict_to_the_district(
    district: District, config: GatewayConfig, tmp_path: Path
) -> None:
    options = dataclasses.replace(FAST_HUB, merge=False)
    async with _station(config, tmp_path, options) as station:
        beat, sho = station.devices["bo-one"][0], station.devices["so-alpha"][0]
        doc_id, _ = await beat.save_record(complaint(officer_id="bo-one"))
        await station.sync("bo-one")
        await station.sync("so-alpha")
        await edit(beat, doc_id, description="Two men.")
        await edit(sho, doc_id, complainant__phone="9123456780")
        await station.sync("bo-one")
        await station.sync("so-alpha")
        central = await station.district[STORES].get("alpha")

        async def relayed() -> bool:
            return len((await _leaves(central, doc_id))[0]) == 2

        await wait_for(relayed)
        at_hub = await station.hub_app[STORES].get("alpha")
        assert len((await _leaves(at_hub, doc_id))[0]) == 2
        report = await station.district[MERGER].merge_station("alpha")
        assert report.merged == [doc_id]
