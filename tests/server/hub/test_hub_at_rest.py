"""No record text in the clear in a station hub's data folder: its station store,
the audited bodies in its state, their WAL files, while it runs and after; every
folder 0700 and file 0600; and its data key opens only with its passphrase.

Device (the real field client) -> hub -> district gateway (embedded store, in the
clear as the district's default, which is this test's control that the marker
text really reached a disk).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from field_client.errors import SyncStopped
from field_client.remote import connect
from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import STATE, STORES
from server.hub.app import HubOptions, create_hub_app
from server.hub.enrolment import authorise_hub, enrol_hub
from server.state.data_key import DATA_KEY_FILE, unlock_data_key
from sync.errors import BadRequest, NotFound, PreconditionFailed, Unauthorized
from sync.replication import RetryPolicy
from tests.at_rest import loose_modes, marker_hits, markers
from tests.field_client.support import complaint, unenrolled_replica, visit
from tests.server.conftest import PASSWORD, District
from tests.server.couch_support import HUB_PASSPHRASE, hub_config, running, wait_for

FAST_HUB = HubOptions(
    refresh_s=0.3, retry=RetryPolicy(base_delay=0.1, max_delay=0.5), upstream_timeout_s=5
)


async def test_the_hubs_data_folder_holds_no_record_text_and_is_owner_only(
    district: District, config: GatewayConfig, tmp_path: Path
) -> None:
    m = markers(
        complaint_en="QZXHUBCOMPLAINT",
        complaint_hi="गुप्तथानाशिकायत",
        visit_en="QZXHUBVISIT",
        edit_hi="गुप्तथानासंशोधन",
        photo_en="QZXHUBPHOTO",
    )
    hub_dir = tmp_path / "hub"
    district_app = create_app(config)
    async with running(district_app) as gateway:
        credential = await enrol_hub(hub_dir, gateway, "so-alpha", PASSWORD)
        state = district_app[STATE]
        await authorise_hub(state, state, credential.device_id)
        device = await unenrolled_replica(tmp_path / "device", "bo-one")
        try:
            await device.enrol(gateway, password=PASSWORD, device_name="tablet 7")
            token = device._keyring.open_secret("token", str(device.settings.sealed_token))
            c_id, _ = await device.save_record(
                complaint(f"{m['complaint_en']} {m['complaint_hi']}", officer_id="bo-one")
            )
            v_id, _ = await device.save_record(
                visit(m["visit_en"]),
                photos={"house.jpg": ("image/jpeg", f"JFIF {m['photo_en']}".encode())},
            )
            old = await device.get_record(c_id)
            edited = f"{m['edit_hi']} {m['complaint_en']}"  # the text the district gets
            await device.save_record({**old, "description": edited})
            async with running(
                create_hub_app(hub_config(hub_dir), "alpha", gateway, options=FAST_HUB)
            ) as hub:
                at_hub = connect(hub, "station-alpha", token)

                async def pushed() -> bool:
                    try:
                        report = await device.sync(at_hub)
                    except SyncStopped:
                        return False  # 401: the hub has not learnt this device yet
                    assert report.refused == ()
                    return report.pushed > 0

                try:
                    await wait_for(pushed)
                finally:
                    await at_hub.close()
                central = await district_app[STORES].get("alpha")

                async def relayed() -> bool:
                    try:
                        doc = await central.get(c_id)
                        await central.get(v_id)
                    except NotFound:
                        return False  # not relayed yet
                    return m["edit_hi"] in doc["description"]

                await wait_for(relayed)
                # The text reached the disk in the clear at the district (the control)...
                assert {name for _, name in marker_hits(config.data_dir, m)} >= {
                    "complaint_en",
                    "visit_en",
                    "edit_hi",
                    "photo_en",
                }
                # ...and nowhere in the hub's folder: station store, state, WAL, shm.
                assert any(p.name.endswith("-wal") for p in hub_dir.rglob("*"))
                assert marker_hits(hub_dir, m) == []
                assert loose_modes(hub_dir) == []
        finally:
            await device.close()
    assert marker_hits(hub_dir, m) == []  # after close: the WAL checkpointed in
    assert loose_modes(hub_dir) == []


def test_the_hubs_data_key_opens_only_with_its_own_passphrase_or_key_file(
    tmp_path: Path,
) -> None:
    hub_dir = tmp_path / "hub"
    sealed = hub_config(hub_dir).at_rest
    assert sealed is not None
    assert (
        unlock_data_key(hub_dir, passphrase=HUB_PASSPHRASE).open(
            b"x", sealed.seal(b"x", b"same key")
        )
        == b"same key"
    )
    with pytest.raises(Unauthorized):
        unlock_data_key(hub_dir, passphrase="not the passphrase at all")
    with pytest.raises(PreconditionFailed):  # sealed with a passphrase, not a key file
        unlock_data_key(hub_dir, key_file=tmp_path / "other.key")
    with pytest.raises(BadRequest):
        unlock_data_key(tmp_path / "short", passphrase="too short")
    # A key file kept elsewhere: made on first use, checked at every start.
    kept = tmp_path / "usb" / "hub.key"
    kept.parent.mkdir()
    first = unlock_data_key(tmp_path / "filed", key_file=kept)
    again = unlock_data_key(tmp_path / "filed", key_file=kept)
    assert again.open(b"y", first.seal(b"y", b"ok")) == b"ok"
    assert (kept.stat().st_mode & 0o777) == 0o600
    kept.write_text(base64.b64encode(bytes(32)).decode())  # another key
    with pytest.raises(Unauthorized):
        unlock_data_key(tmp_path / "filed", key_file=kept)
    assert (tmp_path / "filed" / DATA_KEY_FILE).exists()


def test_a_hub_without_its_data_key_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(BadRequest):
        create_hub_app(GatewayConfig(data_dir=tmp_path / "hub"), "alpha", "http://127.0.0.1:9")


def test_a_folder_of_clear_data_is_not_sealed_in_place(tmp_path: Path) -> None:
    (tmp_path / "old" / "stations").mkdir(parents=True)
    (tmp_path / "old" / "stations" / "alpha.sqlite").write_bytes(b"")
    with pytest.raises(PreconditionFailed):
        unlock_data_key(tmp_path / "old", passphrase=HUB_PASSPHRASE)
