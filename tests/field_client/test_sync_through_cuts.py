"""``beatsync sync`` through a link that resets every few dozen KB (:class:`LinkProxy`):
the sync session resumes from its checkpoints, so the officer's device ends with
every record once, the centre with every pushed record once, and the bytes moved
stay close to a clean run's, on real (encrypted SQLite) replicas and a real gateway."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer

from field_client.errors import Offline
from field_client.replica import UNASSIGNED, FieldReplica
from field_client.reports import SyncReport
from server.gateway.keys import STORES
from sync import journal
from tests.field_client.support import PASSPHRASE, complaint, visitor
from tests.field_client.test_gateway import PASSWORD
from tests.field_client.test_gateway import gateway as gateway  # the fixture
from tests.link_proxy import LinkProxy, LinkTraffic

# The link drops every 48 KB: a pull of the station's records is cut about a dozen times.
CUT_EVERY = 48 * 1024
STATION_RECORDS = 600
OFFICER_RECORDS = 150
# Re-sent bytes allowed over a clean run (the target).
RESENT_AT_MOST = 1.2


async def _device(link: LinkProxy, home: Path, officer: str = "si.sharma") -> FieldReplica:
    """A device enrolled through ``link``: every sync of it goes through the link."""
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer, station_id=UNASSIGNED, beat_id="beat-3"
    )
    await replica.enrol(link.url, password=PASSWORD, device_name=home.name)
    return replica


async def _sync_through(
    replica: FieldReplica, link: LinkProxy
) -> tuple[SyncReport, int, LinkTraffic]:
    """``beatsync sync`` again until done: (last report, attempts, traffic)."""
    link.reset_traffic()
    for attempt in range(1, 30):
        try:
            return await replica.sync(), attempt, link.reset_traffic()
        except Offline:
            continue
    raise AssertionError("the sync never completed through the cuts")


async def test_a_sync_cut_again_and_again_ends_with_everything_once(
    gateway: TestServer, tmp_path: Path
) -> None:
    port = gateway.port
    assert port is not None
    async with (
        LinkProxy(port) as desk_link,
        LinkProxy(port) as clean_link,
        LinkProxy(port) as cut_link,
    ):
        desk = await _device(desk_link, tmp_path / "desk", "so.verma")
        clean = await _device(clean_link, tmp_path / "clean")
        cut = await _device(cut_link, tmp_path / "cut")
        try:
            await _check(gateway, desk, clean, clean_link, cut, cut_link)
        finally:
            for device in (desk, clean, cut):
                await device.close()


async def _check(
    gateway: TestServer,
    desk: FieldReplica,
    clean: FieldReplica,
    clean_link: LinkProxy,
    cut: FieldReplica,
    cut_link: LinkProxy,
) -> None:
    await desk.save_records(visitor() for _ in range(STATION_RECORDS))
    assert (await desk.sync()).pushed == STATION_RECORDS  # records; journals uncounted
    cut_link.cut_every_bytes(CUT_EVERY)
    # 1. The same pull for both devices: the station's records (and journals).
    clean_pull, attempts, clean_down = await _sync_through(clean, clean_link)
    assert (clean_pull.pulled, attempts, clean_down.cuts) == (STATION_RECORDS, 1, 0)
    pull, attempts, down = await _sync_through(cut, cut_link)
    assert down.cuts >= 3, down
    assert pull.pulled == STATION_RECORDS
    # Resumed, not restarted.
    assert down.bytes_down <= RESENT_AT_MOST * clean_down.bytes_down, (down, clean_down)

    # 2. The same push for both: their own records (and journals).
    mine: dict[str, set[str]] = {}
    for name, device in (("clean", clean), ("cut", cut)):
        saved = await device.save_records(
            complaint(f"Complaint {n} on the {name} tablet.") for n in range(OFFICER_RECORDS)
        )
        mine[name] = {saved_id for _, saved_id, _ in saved.saved}
    clean_push, _, clean_up = await _sync_through(clean, clean_link)
    assert clean_push.pushed == OFFICER_RECORDS
    push, _, up = await _sync_through(cut, cut_link)
    assert up.cuts >= 1, up
    # Its own records up; the clean tablet's down.
    assert (push.pushed, push.pulled, push.refused) == (OFFICER_RECORDS, OFFICER_RECORDS, ())
    # A cut costs at most the push request it hit (128 KB of JSON, under 40 KB gzipped),
    # and the whole sync stays within the 1.2x of a clean one.
    assert up.bytes_up <= clean_up.bytes_up + up.cuts * 40_000, (up, clean_up)
    moved = down.bytes_down + down.bytes_up + up.bytes_up
    clean_moved = clean_down.bytes_down + clean_down.bytes_up + clean_up.bytes_up
    assert moved <= RESENT_AT_MOST * clean_moved, (down, up, clean_down, clean_up)

    # Nothing lost, nothing twice: every record on both sides, no conflicts.
    status = await cut.status()
    assert status.records["visitor_entry"] == STATION_RECORDS
    assert status.records["complaint"] == 2 * OFFICER_RECORDS  # its own and the clean's
    assert (status.pending_records, status.conflicts) == (0, ())
    store = await gateway.app[STORES].get("kotwali")
    for record_id in mine["cut"]:
        assert "_conflicts" not in await store.get(record_id, conflicts=True)
    entries = [
        row["doc"]
        for row in (
            await store.all_docs(startkey="journal-", endkey="journal-\ufff0", include_docs=True)
        )["rows"]
    ]
    assert len(entries) == STATION_RECORDS + 2 * OFFICER_RECORDS
    assert journal.verify_chain(entries) == []
