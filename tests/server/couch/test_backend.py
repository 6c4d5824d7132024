"""The gateway over a central CouchDB (pouchdb-server 4.2 stands in for it).

What pouchdb-server cannot show, and how to check it on Apache CouchDB
(README, "Running against Apache CouchDB"):

* ``_security``: stored, read back, and enforced for named users here (the
  gateway's account gets in, another account is refused), but pouchdb-server
  is an "admin party": a request WITHOUT credentials is a server admin, so
  that an anonymous client is refused cannot be seen.
* Fan-in replications: the ``_replicator`` documents run here and the copies
  are seen arriving, but CouchDB 3's scheduler (``/_scheduler/docs``,
  ``_replication_state``) and credentials hidden from non-admins in
  ``_replicator`` do not exist in pouchdb-server.
* Mango indexes: created and listed (``GET /{db}/_index``); whether CouchDB's
  query planner picks them (``POST /{db}/_explain``) is not checked.
* CouchDB 3's opaque string update sequences: pouchdb-server's are integers.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest

from schemas.samples import sample_record
from server.config import GatewayConfig
from server.couch.backend import couch_credentials, redact, with_credentials
from server.couch.bootstrap import (
    DISTRICT_DB,
    DISTRICT_INDEXES,
    REPLICATION_USER,
    BootstrapReport,
    bootstrap,
    replication_doc_id,
    replication_password,
)
from server.couch.state import AUDIT_DB, DEVICE_STATUS_DB, IDENTITIES_DB, CouchGatewayState
from sync.errors import NotFound, ServiceUnavailable
from sync.http import HttpDatabase
from sync.replication import Progress, ReplicationError
from sync.revid import new_rev
from tests import peers
from tests.server.couch_support import (
    EXTERNAL_COUCHDB_ENV,
    GATEWAY_PASSWORD,
    GATEWAY_USER,
    PASSWORD,
    Device,
    StationPlan,
    as_user,
    couch_gateway,
    couch_server,
    doc_ids,
    external_couchdb,
    provision,
    wait_for,
    winners,
)
from tests.server.cut_proxy import CutProxy


@pytest.fixture(scope="module")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One CouchDB for this module (pouchdb-server unless $BEATSYNC_TEST_COUCHDB);
    each test uses its own stations."""
    with couch_server(tmp_path_factory.mktemp("couch")) as url:
        yield url


@pytest.fixture
def plan() -> StationPlan:
    return StationPlan(f"st{uuid4().hex[:8]}")


async def _get_json(url: str) -> object:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json(content_type=None)  # pouchdb-server: text/plain


async def _create_user(url: str, name: str, password: str) -> None:
    user = {"name": name, "password": password, "roles": [], "type": "user"}
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{url}/_users/org.couchdb.user:{name}", json=user) as answer,
    ):
        assert answer.status in (201, 202), await answer.text()


async def _request_as(method: str, url: str, name: str, password: str) -> int:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers={"Authorization": f"Basic {token}"}) as answer,
    ):
        return answer.status


async def _status_as(url: str, name: str, password: str) -> int:
    return await _request_as("GET", url, name, password)


async def test_bootstrap_twice_creates_once_then_changes_nothing(tmp_path: Path) -> None:
    with peers.couch_server(tmp_path / "fresh") as url:

        def run() -> BootstrapReport:
            return bootstrap(
                url,
                gateway_user=GATEWAY_USER,
                gateway_password=GATEWAY_PASSWORD,
                stations=["kotwali", "sadar"],
            )

        first = await asyncio.to_thread(run)
        second = await asyncio.to_thread(run)
        dbs = [
            IDENTITIES_DB,
            AUDIT_DB,
            DEVICE_STATUS_DB,
            DISTRICT_DB,
            "station-kotwali",
            "station-sadar",
        ]
        for db in dbs:
            assert f"database {db}" in first.created
        assert "beatsync-fanin-kotwali in _replicator" in first.created
        assert f"user {GATEWAY_USER}" in first.created
        assert (second.created, second.updated) == ([], [])
        assert not second.changed
        assert sorted(second.unchanged) == sorted(first.created + first.updated + first.unchanged)
        for db in dbs:
            security = await _get_json(f"{url}/{db}/_security")
            # Members only: design documents and _security are the server admin's.
            replicated = db == DISTRICT_DB or db.startswith("station-")
            members = sorted([GATEWAY_USER, *([REPLICATION_USER] if replicated else [])])
            assert security == {
                "admins": {"names": [], "roles": []},
                "members": {"names": members, "roles": []},
            }
        # So the gateway's account cannot remove the audit log's validator.
        design = await _get_json(f"{url}/{AUDIT_DB}/_design/append-only")
        assert isinstance(design, dict)
        removal = await _request_as(
            "DELETE",
            f"{url}/{AUDIT_DB}/_design/append-only?rev={design['_rev']}",
            GATEWAY_USER,
            GATEWAY_PASSWORD,
        )
        assert removal in (401, 403)
        assert await _get_json(f"{url}/{AUDIT_DB}/_design/append-only") == design
        indexes = await _get_json(f"{url}/{DISTRICT_DB}/_index")
        assert {
            i["name"]: [next(iter(f)) for f in i["def"]["fields"]]
            for i in indexes["indexes"]
            if i["type"] == "json"
        } == dict(DISTRICT_INDEXES)
        # Enforced for named users: the gateway's account gets in, another does not.
        # (Anonymous requests are admin in pouchdb-server's admin party, so that
        # anonymous is refused by a secured CouchDB cannot be seen here.)
        await _create_user(url, "eve", "eve-password")
        for db in dbs:
            assert await _status_as(f"{url}/{db}", GATEWAY_USER, GATEWAY_PASSWORD) == 200
            assert await _status_as(f"{url}/{db}", "eve", "eve-password") in (401, 403)
        rep = await _get_json(f"{url}/_replicator/{replication_doc_id('kotwali')}")
        assert isinstance(rep, dict)
        # Fan-in runs as the replication user, never as the server admin.
        password = replication_password(url, None)
        runs_as = f"http://{REPLICATION_USER}:{password}@{url.split('://', 1)[1]}"
        assert rep["source"] == f"{runs_as}/station-kotwali"
        assert rep["target"] == f"{runs_as}/{DISTRICT_DB}"
        assert rep["continuous"] is True
        assert await _status_as(f"{url}/station-kotwali", REPLICATION_USER, password) == 200
        assert await _status_as(f"{url}/{AUDIT_DB}", REPLICATION_USER, password) in (401, 403)
        assert await _status_as(f"{url}/{IDENTITIES_DB}", REPLICATION_USER, password) in (
            401,
            403,
        )
        # The audit log refuses changes to what it holds.
        audit = HttpDatabase(f"{url}/{AUDIT_DB}")
        try:
            entry = await audit.put({"_id": "0000000000000001-x-0", "kind": "audit"})
            results = await audit.bulk_docs(
                [{"_id": "0000000000000001-x-0", "_rev": entry["rev"], "kind": "forged"}]
            )
            assert results[0]["error"] == "forbidden"
            assert (await audit.get("0000000000000001-x-0"))["kind"] == "audit"
        finally:
            await audit.close()


async def test_bootstrap_refuses_an_unreachable_couchdb_with_a_redacted_url() -> None:
    port = peers.free_port()
    with pytest.raises(RuntimeError) as caught:
        await asyncio.to_thread(bootstrap, f"http://admin:s3cret-pw@127.0.0.1:{port}")
    assert "s3cret-pw" not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_devices_sync_through_the_gateway_into_their_station_database(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    other = StationPlan(f"st{uuid4().hex[:8]}")
    report = await provision(couch_url, plan, other)
    assert f"database {plan.db}" in report.created
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    district = HttpDatabase(f"{couch_url}/{DISTRICT_DB}")
    device = await Device.open(plan, tmp_path / "device.sqlite")
    try:
        async with couch_gateway(couch_url, tmp_path / "gw") as gateway:
            enrolled = await device.enrol(gateway)
            assert enrolled["db"] == plan.db
            ids = await device.record(range(25))
            edited = {d: await device.edit(d, "edited on the device") for d in ids[:3]}
            pushed = await device.push(gateway)
            assert pushed.ok
            assert (pushed.docs_written, pushed.doc_write_failures) == (25, 0)

            # In the right CouchDB database, with the device's revs and histories.
            assert await doc_ids(couch_db) == set(ids)
            assert await winners(couch_db, ids) == await winners(device.store, ids)
            for doc_id, rev in edited.items():
                there = await couch_db.get(doc_id, revs=True)
                here = await device.store.get(doc_id, revs=True)
                assert there["_rev"] == rev
                assert there["_revisions"] == here["_revisions"]
            other_db = HttpDatabase(f"{couch_url}/{other.db}")
            try:
                assert await doc_ids(other_db) == set()
            finally:
                await other_db.close()

            # Every accepted revision is in the CouchDB audit log, by this device.
            audit = HttpDatabase(f"{couch_url}/{AUDIT_DB}")
            try:
                rows = (await audit.all_docs(include_docs=True))["rows"]
            finally:
                await audit.close()
            mine = {
                (r["doc"]["doc_id"], r["doc"]["rev"]) for r in rows if r["doc"].get("db") == plan.db
            }
            assert mine == {(d, (await device.store.get(d))["_rev"]) for d in ids}
            # The central office reads the same through the gateway, one station at a time.
            central_auth = "Basic " + base64.b64encode(f"central:{PASSWORD}".encode()).decode()
            async with aiohttp.ClientSession(headers={"Authorization": central_auth}) as session:
                answer = await session.get(f"{gateway}/_beatsync/audit?db={plan.db}&limit=10")
                page = await answer.json()
                assert answer.status == 200, page
                rest = await session.get(
                    f"{gateway}/_beatsync/audit?db={plan.db}&since={page['last_seq']}"
                )
                writes = page["writes"] + (await rest.json())["writes"]
            assert len(page["writes"]) == 10
            assert {(w["doc_id"], w["rev"]) for w in writes} == mine
            assert {w["device_id"] for w in writes} == {device.device_id}

            # A record of another station is refused and stored nowhere.
            stray = device.new_record(999) | {"station_id": other.station_id}
            remote = device.remote(gateway)
            answer = await remote.bulk_docs([stray])
            assert answer[0]["error"] == "forbidden"
            for db in (couch_db, district):
                with pytest.raises(NotFound):
                    await db.get(stray["_id"])

            # A central change (made straight in CouchDB) reaches the device, same rev.
            central = await couch_db.put({**await couch_db.get(ids[5]), "purpose": "central"})
            pulled = await device.pull(gateway)
            assert pulled.ok
            pulled_doc = await device.store.get(ids[5])
            assert pulled_doc["_rev"] == central["rev"]
            assert pulled_doc == await couch_db.get(ids[5])  # the body too, not only the rev
            # The central office sees the device caught up (status kept in CouchDB).
            async with aiohttp.ClientSession(headers={"Authorization": central_auth}) as session:
                answer = await session.get(f"{gateway}/_beatsync/devices")
                rows = {d["device_id"]: d for d in (await answer.json())["devices"]}
            assert rows[device.device_id]["behind"] == 0
            assert rows[device.device_id]["last_checkpoint_at"] is not None

        # The fan-in replication copies the station into the district database.
        async def in_district() -> bool:
            return set(ids) <= await doc_ids(district)

        await wait_for(in_district)
    finally:
        await device.close()
        await couch_db.close()
        await district.close()


async def test_two_gateways_serve_one_device_interchangeably(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    await provision(couch_url, plan)
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    a = await Device.open(plan, tmp_path / "a.sqlite")
    b = await Device.open(plan, tmp_path / "b.sqlite", plan.station_officer)
    try:
        async with (
            couch_gateway(couch_url, tmp_path / "g1") as g1,
            couch_gateway(couch_url, tmp_path / "g2") as g2,
        ):
            # Stateless gateways: either one enrols, and both name the same server.
            assert (await a.enrol(g1))["server_uuid"] == (await b.enrol(g2))["server_uuid"]
            # A syncs half its work through one gateway, half through the other.
            first = await a.record(range(0, 10))
            await a.push(g1)
            second = await a.record(range(10, 20))
            await a.push(g2)
            await a.pull(g1)
            # B writes through g2; both edit the same record while apart.
            b_ids = await b.record(range(20, 30))
            await b.pull(g1)
            await a.edit(first[0], "edited by A")
            await b.edit(first[0], "edited by B")
            await a.push(g1)
            await b.push(g2)
            await b.push(g2)  # again: nothing new, no duplicate
            for device, gateway in ((a, g2), (b, g1), (a, g1), (b, g2)):
                await device.sync(gateway)

        everything = sorted(first + second + b_ids)
        assert await doc_ids(couch_db) == set(everything)
        assert (await couch_db.info())["doc_count"] == len(everything)
        expected = await winners(couch_db, everything)
        assert await winners(a.store, everything) == expected
        assert await winners(b.store, everything) == expected
        _, conflicts = expected[first[0]]
        assert len(conflicts) == 1  # the two edits: one wins, the same one everywhere
    finally:
        await a.close()
        await b.close()
        await couch_db.close()


async def test_couchdb_unavailable_answers_503_with_retry_after_and_the_device_keeps_its_data(
    couch_url: str, plan: StationPlan, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await provision(couch_url, plan)
    port = int(couch_url.rsplit(":", 1)[1])
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    device = await Device.open(plan, tmp_path / "device.sqlite")
    try:
        async with (
            CutProxy(port) as link,
            couch_gateway(link.url, tmp_path / "gw", timeout_s=1) as gateway,
        ):
            await device.enrol(gateway)
            before = await device.record(range(10))
            assert (await device.push(gateway)).ok
            offline = await device.record(range(10, 15))
            headers = {"Authorization": f"Bearer {device.token}"}

            for outage in (link.cut, link.stall):
                outage()
                async with aiohttp.ClientSession() as session:
                    for path in (f"/{plan.db}", f"/{plan.db}/_changes", "/_beatsync/whoami"):
                        answer = await asyncio.wait_for(
                            session.get(gateway + path, headers=headers), 30
                        )
                        body = await answer.json()
                        assert answer.status == 503, (path, body)
                        assert body["error"] == "service_unavailable"
                        assert int(answer.headers["Retry-After"]) > 0
                        assert GATEWAY_PASSWORD not in await answer.text()
                with pytest.raises(ReplicationError):
                    await asyncio.wait_for(device.push(gateway), 60)
                assert await doc_ids(device.store) == set(before + offline)

            link.restore()
            assert (await device.push(gateway)).ok
        assert GATEWAY_PASSWORD not in caplog.text
        assert await doc_ids(couch_db) == set(before + offline)
        assert await winners(couch_db, before + offline) == await winners(
            device.store, before + offline
        )
    finally:
        await device.close()
        await couch_db.close()


async def test_a_gateway_that_cannot_reach_couchdb_says_so_without_its_password(
    couch_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await provision(couch_url)
    wrong = as_user(couch_url, GATEWAY_USER, "hunter2-wrong")
    config = GatewayConfig(data_dir=tmp_path, couchdb_url=wrong)
    assert "hunter2" not in repr(config)
    with pytest.raises(ServiceUnavailable) as caught:
        await CouchGatewayState.open(config, startup_wait_s=0.5)
    assert "hunter2" not in caught.value.reason
    assert redact(couch_url) in caught.value.reason
    assert "hunter2" not in caplog.text


async def test_a_push_cut_off_at_one_gateway_finishes_at_the_other_without_duplicates(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    await provision(couch_url, plan)
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    device = await Device.open(plan, tmp_path / "device.sqlite")
    try:
        async with (
            couch_gateway(couch_url, tmp_path / "g1") as g1,
            couch_gateway(couch_url, tmp_path / "g2") as g2,
        ):
            g1_port = int(g1.rsplit(":", 1)[1])
            async with CutProxy(g1_port) as link:
                await device.enrol(g2)
                ids = await device.record(range(200))

                def cut_midway(progress: Progress) -> None:
                    if progress.docs_written >= 60:
                        link.cut()  # the load balancer loses g1 mid-push

                with pytest.raises(ReplicationError):
                    await device.push(link.url, batch_size=20, on_progress=cut_midway)
                landed = await doc_ids(couch_db)
                assert 60 <= len(landed) < len(ids)
                finished = await device.push(g2, batch_size=20)
                assert finished.ok
                assert finished.doc_write_failures == 0
        assert await doc_ids(couch_db) == set(ids)
        assert (await couch_db.info())["doc_count"] == len(ids)
        assert await winners(couch_db, ids) == await winners(device.store, ids)
    finally:
        await device.close()
        await couch_db.close()


async def test_secured_databases_refuse_anonymous_clients_on_apache_couchdb(
    couch_url: str, plan: StationPlan
) -> None:
    if external_couchdb() is None:
        pytest.skip(
            "pouchdb-server's admin party treats anonymous requests as admin: "
            f"set {EXTERNAL_COUCHDB_ENV} to an Apache CouchDB to check this"
        )
    await provision(couch_url, plan)
    anonymous = couch_credentials(couch_url, {})[0]
    for db in (plan.db, IDENTITIES_DB, AUDIT_DB, DEVICE_STATUS_DB, DISTRICT_DB):
        async with aiohttp.ClientSession() as session, session.get(f"{anonymous}/{db}") as answer:
            assert answer.status == 401, db


async def test_a_revision_in_couchdb_that_the_audit_lacks_is_reported_missing(
    couch_url: str, plan: StationPlan, tmp_path: Path
) -> None:
    # Over CouchDB the station database and the audit log are two databases:
    # a gateway that dies between the two writes leaves this state behind.
    await provision(couch_url, plan)
    doc = sample_record(
        random.Random(3),
        "visitor_entry",
        station_id=plan.station_id,
        beat_ids=[plan.beat_id],
        officer=plan.station_officer,
    )
    rev = new_rev(None, False, doc)
    stored = {**doc, "_rev": rev, "_revisions": {"start": 1, "ids": [rev[2:]]}}
    couch_db = HttpDatabase(f"{couch_url}/{plan.db}")
    try:
        assert await couch_db.bulk_docs([stored], new_edits=False) == []
    finally:
        await couch_db.close()
    async with couch_gateway(couch_url, tmp_path / "gw") as gateway:
        gateway_db = HttpDatabase(
            with_credentials(gateway, plan.db, (plan.station_officer, PASSWORD))
        )
        try:
            assert await gateway_db.revs_diff({doc["_id"]: [rev]}) == {
                doc["_id"]: {"missing": [rev]}
            }
            # Sent again, it is checked and audited; then it is no longer missing.
            assert await gateway_db.bulk_docs([stored], new_edits=False) == []
            assert await gateway_db.revs_diff({doc["_id"]: [rev]}) == {}
        finally:
            await gateway_db.close()
