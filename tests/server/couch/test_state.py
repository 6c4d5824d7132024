"""The gateway's state as CouchDB documents: the same answers as the SQLite repository,
shared by several gateways (two state objects stand for two gateway processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest

from schemas.identity import Role
from server.couch.state import CouchGatewayState
from server.policy.auth import token_hash
from server.policy.passwords import hash_password
from server.state.models import NewAuditEntry
from sync.errors import Conflict, NotFound
from tests.server.couch_support import central_state, couch_server, provision

HASH = hash_password("some-password-1")


@pytest.fixture(scope="module")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with couch_server(tmp_path_factory.mktemp("couch")) as url:
        yield url


@pytest.fixture
async def two(couch_url: str) -> AsyncIterator[tuple[CouchGatewayState, CouchGatewayState]]:
    await provision(couch_url)
    a, b = central_state(couch_url), central_state(couch_url)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def _id(prefix: str) -> str:
    return f"{prefix}{uuid4().hex[:8]}"


async def test_identities_round_trip_and_duplicates_conflict(two) -> None:
    a, b = two
    station = _id("st")
    await a.add_station(station, "Station", beat_scoped=True)
    with pytest.raises(Conflict):
        await b.add_station(station, "Again")
    await a.add_beat(station, f"{station}-one", "One")
    with pytest.raises(NotFound):
        await a.add_beat(_id("nowhere"), "x-one", "X")
    officer = await a.add_officer(
        _id("bo-"), "BO", Role.BEAT_OFFICER, HASH, station_id=station, beat_id=f"{station}-one"
    )
    with pytest.raises(NotFound):
        await a.add_officer(
            _id("x-"), "X", Role.BEAT_OFFICER, HASH, station_id=station, beat_id="no-such-beat"
        )
    assert await b.get_officer(officer.id) == officer
    assert [o.id for o in await b.list_officers(station)] == [officer.id]
    assert (await b.set_beat_scoped(station, False)).beat_scoped is False
    assert (await a.get_station(station)).beat_scoped is False
    await b.set_password_hash(officer.id, "scrypt$new")
    assert (await a.get_officer(officer.id)).password_hash == "scrypt$new"
    with pytest.raises(NotFound):
        await a.revoke_officer(_id("ghost-"))


async def test_a_device_is_found_by_its_token_and_a_revocation_shows_everywhere(two) -> None:
    a, b = two
    station = _id("st")
    await a.add_station(station, "Station")
    officer = await a.add_officer(_id("so-"), "SO", Role.STATION_OFFICER, HASH, station_id=station)
    device_id = _id("dev-")
    await a.add_device(device_id, officer.id, "tablet", "key", token_hash("tok-" + device_id))
    with pytest.raises(Conflict):  # a token belongs to one device only
        await b.add_device(_id("dev-"), officer.id, "other", "key", token_hash("tok-" + device_id))
    found = await b.device_by_token_hash(token_hash("tok-" + device_id))
    assert found is not None
    assert found.id == device_id
    assert await b.device_by_token_hash(token_hash("wrong")) is None
    assert await b.device_token_hash(device_id) == token_hash("tok-" + device_id)
    assert (await b.get_device(device_id)).revoked is False  # now cached by b
    await b.revoke_device(device_id)
    assert (await b.get_device(device_id)).revoked is True
    # Authentication reads by token, never from the cache: revoked at once everywhere.
    assert (await a.device_by_token_hash(token_hash("tok-" + device_id))).revoked is True


async def test_device_status_from_two_gateways_keeps_the_latest_of_each(two) -> None:
    a, b = two
    station = _id("st")
    await a.add_station(station, "Station")
    officer = await a.add_officer(_id("so-"), "SO", Role.STATION_OFFICER, HASH, station_id=station)
    device_id = _id("dev-")
    await a.add_device(device_id, officer.id, "tablet", "key", token_hash(device_id))
    db = f"station-{station}"
    await asyncio.gather(a.seen(device_id, db, last_seq=5), b.seen(device_id, db, checkpoint=True))
    device = await a.get_device(device_id)
    assert device.last_seq == 5
    assert device.last_checkpoint_at is not None
    assert device.last_db == db


async def test_the_audit_log_appends_pages_and_filters_by_database(two) -> None:
    a, b = two
    db1, db2 = f"station-{_id('a')}", f"station-{_id('b')}"
    await a.append(
        [
            NewAuditEntry(db1, f"doc{i}", "1-x", "so", None, "complaint", False, "unsigned")
            for i in range(5)
        ]
    )
    await b.append([NewAuditEntry(db2, "other", "1-y", "so", "dev", "complaint", True, "verified")])
    await a.append([NewAuditEntry(db1, "doc5", "2-x", "so", "dev", None, False, "verified")])
    mine = await b.read(db=db1)
    assert [e.doc_id for e in mine] == [f"doc{i}" for i in range(6)]
    assert [e.seq for e in mine] == sorted({e.seq for e in mine})  # unique, increasing
    first_page = await b.read(db=db1, limit=2)
    rest = await b.read(db=db1, since=first_page[-1].seq)
    assert [e.doc_id for e in first_page + rest] == [e.doc_id for e in mine]
    theirs = await a.read(db=db2)
    assert [(e.doc_id, e.deleted, e.signed) for e in theirs] == [("other", True, "verified")]
    everything = {(e.db, e.doc_id) for e in await a.read(limit=100_000)}
    assert {(db1, f"doc{i}") for i in range(6)} | {(db2, "other")} <= everything
    # Which revisions of a batch the log has: past Mango's default limit of 25.
    await a.append(
        [
            NewAuditEntry(db1, f"many{i}", "1-m", "so", None, None, False, "unsigned")
            for i in range(40)
        ]
    )
    asked = {(f"many{i}", "1-m") for i in range(40)} | {("doc5", "2-x"), ("doc5", "1-x")}
    asked |= {("other", "1-y"), ("never", "1-z")}
    assert await b.audited(db1, asked) == {(f"many{i}", "1-m") for i in range(40)} | {
        ("doc5", "2-x")
    }
    assert await b.audited(db1, set()) == set()


async def test_a_setting_one_gateway_writes_is_what_every_gateway_reads(two) -> None:
    a, b = two
    key = f"setting-{uuid4().hex}"
    await a.set_setting(key, "one")
    assert await b.get_setting(key) == "one"
    await a.set_setting(key, "three")
    assert await b.get_setting(key) == "three"
    assert await b.get_setting(f"missing-{uuid4().hex}", "default") == "default"
