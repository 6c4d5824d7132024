"""Two officers' encrypted field replicas edit the same complaints offline,
differently; the gateway merges what it can, the office resolves the rest,
and both devices end on the same revisions. On both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import CONFLICTS, MERGER
from server.state.models import Principal
from tests.field_client.support import complaint
from tests.server.conflicts.devices import device, edit, live_leaves
from tests.server.conftest import backend, state_of
from tests.server.conftest import client_on_both as client
from tests.server.conftest import district_on_both as district

__all__ = ["backend", "client", "district"]


async def test_offline_edits_merge_or_queue_and_every_device_converges(
    client: TestClient[Any, Any], district: Any, tmp_path: Path
) -> None:
    beat = await device(client, tmp_path / "beat-tablet", "bo-one")
    desk_pc = await device(client, tmp_path / "station-pc", "so-alpha")
    try:
        mergeable, _ = await beat.save_record(complaint(name="Ram Kumar", officer_id="bo-one"))
        clash, _ = await beat.save_record(complaint(name="Geeta Sinha", officer_id="bo-one"))
        assert (await beat.sync()).refused == ()
        await desk_pc.sync()

        # Offline on both: different fields of one complaint, the same fact of the other.
        await edit(
            beat,
            mergeable,
            note="Met the complainant at home.",
            description="Snatched by two men on a motorcycle.",
        )
        await edit(
            desk_pc, mergeable, note="CCTV footage requested.", complainant__phone="9123456780"
        )
        await edit(beat, clash, complainant__name="Geeta Kumari Sinha")
        await edit(desk_pc, clash, complainant__name="Gita Sinha")
        for replica in (beat, desk_pc):
            assert (await replica.sync()).refused == ()

        report = await client.server.app[MERGER].merge_station("alpha")
        assert report.merged == [mergeable]
        assert report.queued == [clash]
        for replica in (beat, desk_pc, beat):  # the first device pulls what the second pushed
            await replica.sync()
        merged = [await r.get_record(mergeable) for r in (beat, desk_pc)]
        assert merged[0]["_rev"] == merged[1]["_rev"]
        assert [await live_leaves(r, mergeable) for r in (beat, desk_pc)] == [
            [merged[0]["_rev"]]
        ] * 2
        record = merged[0]
        assert record["description"] == "Snatched by two men on a motorcycle."
        assert record["complainant"]["phone"] == "9123456780"
        notes = {e.get("note") for e in record["action_log"]}
        assert {"Met the complainant at home.", "CCTV footage requested."} <= notes
        # The clash is still two versions on both devices, and in the office's queue.
        assert len(await live_leaves(beat, clash)) == len(await live_leaves(desk_pc, clash)) == 2

        central = await state_of(client).get_officer("central")
        assert central is not None
        desk = client.server.app[CONFLICTS]
        (queued,) = (await desk.list(Principal(central))).items
        view = await desk.get(Principal(central), "alpha", queued.doc_id)
        by_name = {leaf.body["complainant"]["name"]: leaf for leaf in view.leaves}
        assert {leaf.device_id for leaf in view.leaves} == {
            beat.settings.device_id,
            desk_pc.settings.device_id,
        }
        assert all(leaf.signed == "verified" for leaf in view.leaves)
        done = await desk.resolve(
            Principal(central),
            "alpha",
            clash,
            reason="The FIR register and her Aadhaar read Geeta Kumari Sinha.",
            fields={"complainant.name": by_name["Geeta Kumari Sinha"].rev},
        )
        for replica in (beat, desk_pc):
            await replica.sync()
            assert await live_leaves(replica, clash) == [done.rev]
            resolved = await replica.get_record(clash)
            assert resolved["complainant"]["name"] == "Geeta Kumari Sinha"
            assert resolved["action_log"][-1]["by"] == "central"
        # A device edits the resolved record as it edits any other.
        await edit(beat, clash, note="Complainant informed of the correction.")
        assert (await beat.sync()).refused == ()
        assert (await desk.counts()).open == 0
    finally:
        await beat.close()
        await desk_pc.close()
