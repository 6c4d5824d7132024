"""The field client enrols a device with the real gateway and syncs through it.

The gateway (``server/``) runs on a loopback port in this test's loop; the
device talks to it over real HTTP with its bearer token, and the CLI's
``init --server`` path enrols the same way an officer would.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from rich.console import Console

from field_client import keys, render
from field_client.cli import EXIT_REVOKED, cli
from field_client.errors import DeviceRevoked, NoReplica
from field_client.replica import UNASSIGNED, FieldReplica
from field_client.reports import SyncReport
from schemas.identity import Role
from server.config import GatewayConfig
from server.gateway.app import create_app, open_state
from server.gateway.keys import STATE, STORES
from server.policy import admin
from sync import journal, session_wire, signing
from sync.errors import BadRequest
from tests.field_client.support import (
    PASSPHRASE,
    complaint,
    unenrolled_replica,
    visit,
    visitor,
)

PASSWORD = "officer-password-1"


async def _provision(data_dir: Path) -> None:
    state = await open_state(GatewayConfig(data_dir=data_dir))
    try:
        await state.add_station("kotwali", "Kotwali police station")
        await state.add_beat("kotwali", "beat-3", "Beat 3")
        await admin.add_officer(
            state,
            "si.sharma",
            "SI Sharma",
            Role.BEAT_OFFICER,
            PASSWORD,
            station_id="kotwali",
            beat_id="beat-3",
        )
        await admin.add_officer(
            state, "so.verma", "SO Verma", Role.STATION_OFFICER, PASSWORD, station_id="kotwali"
        )
    finally:
        await state.close()


@pytest.fixture
async def gateway(
    data_dir: Path, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> TestServer:
    await _provision(data_dir)
    return await aiohttp_server(create_app(GatewayConfig(data_dir=data_dir)))


def _nothing_set_up(home: Path) -> bool:
    return not home.exists() or list(home.iterdir()) == []


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def _enrolled(gateway: TestServer, home: Path, device_name: str) -> FieldReplica:
    """A beat officer's new replica in ``home``, enrolled with ``gateway``."""
    replica = await unenrolled_replica(home)
    try:
        await replica.enrol(_url(gateway), password=PASSWORD, device_name=device_name)
    except BaseException:
        await replica.close()
        raise
    return replica


async def test_enrol_sync_and_revocation_through_the_gateway(
    gateway: TestServer, tmp_path: Path
) -> None:
    replica = await unenrolled_replica(tmp_path / "device")
    try:
        await replica.enrol(_url(gateway), password=PASSWORD, device_name="tablet 7")
        s = replica.settings
        assert (s.station_id, s.beat_id, s.db_name) == ("kotwali", "beat-3", "station-kotwali")
        assert s.device_id.startswith("dev-")
        assert s.sealed_token is not None
        token = keys.unlock(tmp_path / "device" / "keys.json", PASSPHRASE).open_secret(
            "token", s.sealed_token
        )
        assert token not in (tmp_path / "device" / "settings.json").read_text()

        doc_id, _ = await replica.save_record(complaint())
        await replica.save_record(visitor())
        old = await replica.get_record(doc_id)
        await replica.save_record({**old, "description": "Edited offline before sync."})
        report = await replica.sync()
        assert report.refused == ()
        assert report.pushed == 2  # records, as status counted them (3 journal entries uncounted)
        assert (await replica.status()).pending_records == 0

        # The centre has the record, signed by this device, and every offline edit.
        store = await gateway.app[STORES].get("kotwali")
        central = await store.get(doc_id)
        assert central["description"] == "Edited offline before sync."
        key = signing.public_key_from_b64(replica.public_key_b64)
        assert signing.verify(central, key)
        entries = [
            row["doc"]
            for row in (
                await store.all_docs(
                    startkey="journal-", endkey="journal-\ufff0", include_docs=True
                )
            )["rows"]
        ]
        assert [e["action"] for e in entries] == ["create", "create", "update"]
        assert journal.verify_chain(entries) == []

        # Revoked at the district office: the next contact destroys the keys.
        await gateway.app[STATE].revoke_device(s.device_id)
        with pytest.raises(DeviceRevoked):
            await replica.sync()
        with pytest.raises(NoReplica):
            await FieldReplica.open(tmp_path / "device", PASSPHRASE)
    finally:
        await replica.close()


async def test_photographed_visits_and_their_edits_are_accepted_signed(
    gateway: TestServer, tmp_path: Path
) -> None:
    # The signature covers attachment digests; the gateway refuses what does not
    # verify, so every revision below must reach the centre intact and signed.
    replica = await _enrolled(gateway, tmp_path / "device", "tablet 8")
    door, gate = b"\xff\xd8 door photo", b"\xff\xd8 gate photo"
    try:
        doc_id, _ = await replica.save_record(visit(), photos={"door.jpg": ("image/jpeg", door)})
        assert (await replica.sync()).refused == ()
        old = await replica.get_record(doc_id)
        await replica.save_record({**old, "findings": "Confirmed again."})  # photo kept (stub)
        assert (await replica.sync()).refused == ()
        old = await replica.get_record(doc_id)
        await replica.save_record(old, photos={"gate.jpg": ("image/jpeg", gate)})
        report = await replica.sync()
        assert report.refused == ()

        store = await gateway.app[STORES].get("kotwali")
        central = await store.get(doc_id, attachments=True)
        assert central["findings"] == "Confirmed again."
        assert sorted(central["_attachments"]) == ["door.jpg", "gate.jpg"]
        assert signing.verify(central, signing.public_key_from_b64(replica.public_key_b64))
        swapped = {
            **central,
            "_attachments": {
                **central["_attachments"],
                "door.jpg": central["_attachments"]["gate.jpg"],
            },
        }
        assert not signing.verify(swapped, signing.public_key_from_b64(replica.public_key_b64))
    finally:
        await replica.close()


async def test_cli_init_enrols_and_syncs(gateway: TestServer, tmp_path: Path) -> None:
    home = tmp_path / "device"
    env = {"BEATSYNC_PASSPHRASE": PASSPHRASE, "BEATSYNC_PASSWORD": PASSWORD}

    def beatsync(*args: str) -> Any:
        # The CLI runs its own event loop, so it runs in a thread beside the gateway's.
        return CliRunner().invoke(cli, ["--home", str(home), "--json", *args], env=env)

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(beatsync, *args)

    enrolled = await run("init", "--server", _url(gateway), "--officer", "si.sharma")
    assert enrolled.exit_code == 0, enrolled.output
    device_id = orjson.loads(enrolled.stdout)["device_id"]
    saved = await run(
        "visitor", "in", "--name", "Priya", "--purpose", "FIR copy", "--to-meet", "SHO"
    )
    assert saved.exit_code == 0, saved.output
    synced = await run("sync")
    assert synced.exit_code == 0, synced.output
    assert orjson.loads(synced.stdout)["pushed"] == 1  # one record (its journal entry uncounted)
    store = await gateway.app[STORES].get("kotwali")
    assert (await store.get(orjson.loads(saved.stdout)["id"]))["purpose"] == "FIR copy"

    await gateway.app[STATE].revoke_device(device_id)
    revoked = await run("sync")
    assert revoked.exit_code == EXIT_REVOKED
    assert "revoked" in orjson.loads(revoked.stdout)["error"]
    assert not (home / "keys.json").exists()


async def test_wrong_officer_password_leaves_no_half_set_up_device(
    gateway: TestServer, tmp_path: Path
) -> None:
    home = tmp_path / "device"
    env = {"BEATSYNC_PASSPHRASE": PASSPHRASE, "BEATSYNC_PASSWORD": "not-the-password"}
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["--home", str(home), "init", "--server", _url(gateway), "--officer", "si.sharma"],
        env=env,
    )
    assert result.exit_code == 1
    assert _nothing_set_up(home)


async def test_station_officer_device_records_for_the_beat_chosen_at_init(
    gateway: TestServer, tmp_path: Path
) -> None:
    without = await FieldReplica.create(
        tmp_path / "a",
        PASSPHRASE,
        officer_id="so.verma",
        station_id=UNASSIGNED,
        beat_id=UNASSIGNED,
    )
    try:
        with pytest.raises(BadRequest):
            await without.enrol(_url(gateway), password=PASSWORD, device_name="desk")
        assert without.settings.server_url is None
    finally:
        await without.close()
    desk = await FieldReplica.create(
        tmp_path / "b",
        PASSPHRASE,
        officer_id="so.verma",
        station_id=UNASSIGNED,
        beat_id="beat-3",
    )
    try:
        await desk.enrol(_url(gateway), password=PASSWORD, device_name="desk")
        assert (desk.settings.role, desk.settings.beat_id) == ("station_officer", "beat-3")
        doc_id, _ = await desk.save_record(visitor())
        assert (await desk.sync()).refused == ()
        store = await gateway.app[STORES].get("kotwali")
        assert (await store.get(doc_id))["beat_id"] == "beat-3"
    finally:
        await desk.close()


async def test_offline_device_enrols_later_and_enrols_again_with_a_fresh_chain(
    gateway: TestServer, tmp_path: Path
) -> None:
    home = tmp_path / "device"
    env = {"BEATSYNC_PASSPHRASE": PASSPHRASE, "BEATSYNC_PASSWORD": PASSWORD}

    def beatsync(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), "--json", *args], env=env)

    async def run(*args: str) -> Any:
        result = await asyncio.to_thread(beatsync, *args)
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)

    await run(
        "init", "--offline", "--officer", "si.sharma", "--station", "kotwali", "--beat", "beat-3"
    )
    first = await run("enrol", "--server", _url(gateway))
    await run("visitor", "in", "--name", "Priya", "--purpose", "FIR copy", "--to-meet", "SHO")
    second = await run("enrol")  # same server, a new token and device id
    assert second["device_id"] != first["device_id"]
    await run("visitor", "in", "--name", "Ravi", "--purpose", "Passport", "--to-meet", "SHO")
    assert (await run("sync"))["refused"] == []
    store = await gateway.app[STORES].get("kotwali")
    entries = [
        row["doc"]
        for row in (
            await store.all_docs(startkey="journal-", endkey="journal-\ufff0", include_docs=True)
        )["rows"]
    ]
    assert sorted((e["device_id"], e["seq"]) for e in entries) == sorted(
        [(first["device_id"], 1), (second["device_id"], 1)]
    )
    assert journal.verify_chain(entries) == []


async def test_a_record_the_gateway_refuses_is_in_status_with_its_reason_and_offered_again(
    gateway: TestServer, tmp_path: Path
) -> None:
    replica = await _enrolled(gateway, tmp_path / "device", "tablet 9")
    try:
        doc_id, _ = await replica.save_record(complaint())
        # A record that never went through this device's checks (put straight
        # into its store, as an older version or a bad import might have): the
        # gateway refuses it, and must not hold back the officer's records.
        stray = await replica.db.put(
            {"_id": "stray-record", "type": "visitor_entry", "station_id": "elsewhere"}
        )
        report = await replica.sync()
        assert [(r["id"], r["rev"]) for r in report.refused] == [("stray-record", stray["rev"])]
        store = await gateway.app[STORES].get("kotwali")
        assert (await store.get(doc_id))["_id"] == doc_id  # the rest went through

        (refused,) = (await replica.status()).refused
        assert (refused.record_id, refused.error) == ("stray-record", "forbidden")
        assert refused.reason == report.refused[0]["reason"]
        assert "signature" in refused.reason
        console = Console(record=True, width=400)
        console.print(render.status_table(await replica.status()))
        assert f"stray-re (forbidden): {refused.reason}" in console.export_text()

        again = await replica.sync()  # offered again, refused again
        assert [r["id"] for r in again.refused] == ["stray-record"]
        # Its (unsigned) deletion supersedes it: the newest leaf is what is refused now.
        gone = await replica.db.put({"_id": "stray-record", "_rev": stray["rev"], "_deleted": True})
        await replica.sync()
        assert [r.rev for r in (await replica.status()).refused] == [gone["rev"]]
    finally:
        await replica.close()


async def test_the_gateway_hears_what_the_device_still_has_to_push(
    gateway: TestServer, tmp_path: Path
) -> None:
    replica = await _enrolled(gateway, tmp_path / "device", "tablet 10")
    try:
        device_id = (await replica.status()).device_id
        state = gateway.app[STATE]
        for _ in range(2):
            await replica.save_record(complaint())
        assert (await replica.sync()).refused == ()
        device = await state.get_device(device_id)
        assert (device.pending, device.pending_at is not None) == (0, True)
        # One record the gateway refuses: it stays on the device, and the office hears so.
        await replica.db.put({"_id": "stray-record", "type": "visitor_entry", "station_id": "x"})
        await replica.save_record(complaint())
        assert len((await replica.sync()).refused) == 1
        assert (await state.get_device(device_id)).pending == 1
    finally:
        await replica.close()


def test_the_servers_words_are_shown_whole_not_read_as_console_markup() -> None:
    reason = '_revisions must be {"start": integer, "ids": [string, ...]}'
    console = Console(record=True, width=400)
    console.print(render.sync_summary(SyncReport(1, 0, ({"id": "abc", "reason": reason},))))
    assert reason in console.export_text()


async def test_cli_init_after_too_many_wrong_passwords_says_how_long_to_wait(
    gateway: TestServer, tmp_path: Path
) -> None:
    def init(home: Path, password: str) -> Any:
        env = {"BEATSYNC_PASSPHRASE": PASSPHRASE, "BEATSYNC_PASSWORD": password}
        args = ["--home", str(home), "init", "--server", _url(gateway), "--officer", "si.sharma"]
        return CliRunner().invoke(cli, args, env=env)

    for n in range(GatewayConfig().login_limits.officer_at_address.free):
        refused = await asyncio.to_thread(init, tmp_path / f"try-{n}", "not-the-password")
        assert "incorrect" in refused.output
    waiting = await asyncio.to_thread(init, tmp_path / "device", PASSWORD)
    assert waiting.exit_code == 1
    said = " ".join(waiting.output.split())
    assert re.search(r"try again in [1-9][0-9]* seconds", said), said
    assert "Traceback" not in waiting.output
    assert _nothing_set_up(tmp_path / "device")


async def test_cli_init_checks_the_password_before_asking_for_a_passphrase(
    gateway: TestServer, tmp_path: Path
) -> None:
    home = tmp_path / "device"
    args = ["--home", str(home), "init", "--server", _url(gateway), "--officer", "si.sharma"]
    answers = f"not-the-password\n{PASSWORD}\n{PASSPHRASE}\n{PASSPHRASE}\n"
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, input=answers, env={})
    assert result.exit_code == 0, result.output
    out = result.output
    # The wrong password is said, and asked again, before any passphrase is asked.
    assert "Try again (2 left)" in out, out
    assert out.index("incorrect") < out.index("Choose a passphrase"), out
    assert out.count("Choose a passphrase") == 1, out
    # The key enrolled first is the key the device signs with: its records sync.
    env = {"BEATSYNC_PASSPHRASE": PASSPHRASE}
    saved = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "--home",
            str(home),
            "visitor",
            "in",
            "--name",
            "Priya",
            "--purpose",
            "FIR",
            "--to-meet",
            "SHO",
        ],
        env=env,
    )
    assert saved.exit_code == 0, saved.output
    synced = await asyncio.to_thread(
        CliRunner().invoke, cli, ["--home", str(home), "--json", "sync"], env=env
    )
    assert synced.exit_code == 0, synced.output
    assert orjson.loads(synced.stdout)["refused"] == []


async def test_cli_init_of_a_station_officer_asks_for_the_beat(
    gateway: TestServer, tmp_path: Path
) -> None:
    home = tmp_path / "desk"
    args = [
        "--home",
        str(home),
        "--json",
        "init",
        "--server",
        _url(gateway),
        "--officer",
        "so.verma",
    ]
    answers = f"{PASSWORD}\nbeat-3\n{PASSPHRASE}\n{PASSPHRASE}\n"
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, input=answers, env={})
    assert result.exit_code == 0, result.output
    assert "Beat id this device records for" in result.output, result.output
    assert orjson.loads(result.stdout)["beat_id"] == "beat-3"


async def test_a_sync_cut_short_says_what_it_sent_and_exactly_what_still_waits(
    data_dir: Path, aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path
) -> None:
    """Issue 12, friction 4: after a cut sync `status` still said "Waiting to sync
    10201"; now the sync says where it stopped and status agrees, in records."""
    await _provision(data_dir)
    app = create_app(GatewayConfig(data_dir=data_dir))
    pushes = [0]

    @web.middleware
    async def link_drops_after_one_batch(request: web.Request, handler: Any) -> Any:
        if request.path == "/":  # no sync session offered: the standard replication's batches
            welcome = orjson.loads((await handler(request)).body)
            welcome.pop(session_wire.FEATURE)
            return web.json_response(welcome)
        if request.path.endswith("/_bulk_docs"):
            pushes[0] += 1
            if pushes[0] > 1:  # the signal goes after the first batch
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("the link dropped")
        return await handler(request)

    app.middlewares.insert(0, link_drops_after_one_batch)
    server = await aiohttp_server(app)
    home = tmp_path / "device"
    env = {"BEATSYNC_PASSPHRASE": PASSPHRASE, "BEATSYNC_PASSWORD": PASSWORD}

    def beatsync(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), *args], env=env, input=input)

    async def run(*args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(beatsync, *args, input=input)

    enrolled = await run("init", "--server", _url(server), "--officer", "si.sharma")
    assert enrolled.exit_code == 0, enrolled.output
    register = "".join(orjson.dumps(visitor(f"Visit {n}")).decode() + "\n" for n in range(80))
    imported = await run("import", "--type", "visitor_entry", "-", input=register)
    assert imported.exit_code == 0, imported.output
    cut = await run("sync")
    assert cut.exit_code == 3, cut.output  # offline: everything kept
    store = await server.app[STORES].get("kotwali")
    at_centre = sum(1 for d in await _records(store) if d.get("type") == "visitor_entry")
    assert 0 < at_centre < 80
    said = " ".join(cut.output.split())
    assert f"Sent before the link dropped: {at_centre} record(s)" in said, said
    assert f"still waiting to be sent: {80 - at_centre}." in said, said
    status = await run("--json", "status")
    assert orjson.loads(status.stdout)["pending_records"] == 80 - at_centre


async def _records(store: Any) -> list[dict[str, Any]]:
    rows = (await store.all_docs(include_docs=True))["rows"]
    return [row["doc"] for row in rows if isinstance(row.get("doc"), dict)]
