"""A small district, provisioned once per session and copied into each test's data folder.

Password hashing is deliberately slow (scrypt), so the identities are built
once; every test gets its own copy of the folder, so nothing leaks between tests.
"""

from __future__ import annotations

import asyncio
import base64
import random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.identity import Role
from schemas.samples import sample_record
from server.config import GatewayConfig
from server.gateway.app import create_app, open_state
from server.gateway.keys import STATE, STORES
from server.policy import admin
from server.policy.auth import token_hash
from sync import journal, signing
from sync.database import Database
from sync.revid import new_rev
from sync.revtree import path_from_revisions

PASSWORD = "correct-horse-1"
WRONG_PASSWORD = "wrong-horse-1"


@dataclass
class District:
    """Who is who in the test district (see ``_provision``)."""

    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)  # device id -> key
    tokens: dict[str, str] = field(default_factory=dict)  # device id -> bearer token


OFFICERS: list[tuple[str, Role, str | None, str | None]] = [
    ("so-alpha", Role.STATION_OFFICER, "alpha", None),
    ("bo-one", Role.BEAT_OFFICER, "alpha", "alpha-one"),
    ("bo-two", Role.BEAT_OFFICER, "alpha", "alpha-two"),
    ("so-bravo", Role.STATION_OFFICER, "bravo", None),
    ("central", Role.CENTRAL_OFFICE, None, None),
    ("admin", Role.ADMIN, None, None),
    ("gone", Role.STATION_OFFICER, "alpha", None),
]
# device id -> officer; "dev-revoked" is revoked, and so is the officer "gone".
DEVICES = {
    "dev-so-alpha": "so-alpha",
    "dev-bo-one": "bo-one",
    "dev-revoked": "so-alpha",
    "dev-gone": "gone",
}


async def _provision(config: GatewayConfig) -> District:
    district = District()
    state = await open_state(config)
    try:
        # Station alpha is beat-scoped: its beat officers see only their beat.
        await state.add_station("alpha", "Alpha police station", beat_scoped=True)
        await state.add_station("bravo", "Bravo police station")
        for station, beat in (
            ("alpha", "alpha-one"),
            ("alpha", "alpha-two"),
            ("bravo", "bravo-one"),
        ):
            await state.add_beat(station, beat, beat)
        await asyncio.gather(
            *(
                admin.add_officer(state, oid, oid, role, PASSWORD, station_id=st, beat_id=bt)
                for oid, role, st, bt in OFFICERS
            )
        )
        for device_id, officer_id in DEVICES.items():
            key = Ed25519PrivateKey.generate()
            token = f"token-{device_id}"
            await state.add_device(
                device_id, officer_id, device_id, signing.public_key_to_b64(key), token_hash(token)
            )
            district.keys[device_id], district.tokens[device_id] = key, token
        await state.revoke_device("dev-revoked")
        await state.revoke_officer("gone")
    finally:
        await state.close()
    return district


@pytest.fixture(scope="session")
def district_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, District]:
    folder = tmp_path_factory.mktemp("district")
    district = asyncio.run(_provision(GatewayConfig(data_dir=folder)))
    return folder, district


@pytest.fixture
def district(district_template: tuple[Path, District], data_dir: Path) -> District:
    shutil.copytree(district_template[0], data_dir, dirs_exist_ok=True)
    return district_template[1]


@pytest.fixture
def config(data_dir: Path) -> GatewayConfig:
    return GatewayConfig(data_dir=data_dir)


@pytest.fixture
def app_factory() -> Callable[[GatewayConfig], Any]:
    """What ``client`` serves: the gateway; a module overrides it to serve
    the whole site (``server.site.create_site``)."""
    return create_app


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    district: District,
    config: GatewayConfig,
    app_factory: Callable[[GatewayConfig], Any],
) -> TestClient[Any, Any]:
    return await aiohttp_client(app_factory(config))


# -- the same district over a central CouchDB --------------------------------------------
#
# Tests that take ``client`` and ``district`` run on both backends when their
# module imports these three fixtures (``from tests.server.conftest import
# backend, client_on_both as client, district_on_both as district``). The
# CouchDB is a pouchdb-server of the test's own, or $BEATSYNC_TEST_COUCHDB with
# what the test created removed afterwards: every test starts from an empty
# district, as with the embedded backend.


@pytest.fixture(params=["embedded", "couch"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def couch_district(tmp_path: Path) -> AsyncIterator[tuple[District, GatewayConfig]]:
    from server.couch.bootstrap import bootstrap
    from tests import peers
    from tests.server.couch_support import GATEWAY_PASSWORD, GATEWAY_USER, gateway_couch_url

    with peers.couch_server(tmp_path / "couch") as url:
        await asyncio.to_thread(
            bootstrap,
            url,
            gateway_user=GATEWAY_USER,
            gateway_password=GATEWAY_PASSWORD,
            stations=["alpha", "bravo"],
        )
        config = GatewayConfig(data_dir=tmp_path / "gateway", couchdb_url=gateway_couch_url(url))
        yield await _provision(config), config


@pytest.fixture
def district_on_both(
    backend: str,
    request: pytest.FixtureRequest,
    district_template: tuple[Path, District],
    data_dir: Path,
) -> District:
    if backend == "couch":
        district: District = request.getfixturevalue("couch_district")[0]
        return district
    shutil.copytree(district_template[0], data_dir, dirs_exist_ok=True)
    return district_template[1]


@pytest.fixture
def config_on_both(
    backend: str, request: pytest.FixtureRequest, district_on_both: District, config: GatewayConfig
) -> GatewayConfig:
    """The gateway's settings for the test's backend (its district provisioned)."""
    if backend == "couch":
        couch_config: GatewayConfig = request.getfixturevalue("couch_district")[1]
        return couch_config
    return config


@pytest.fixture
async def client_on_both(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(config_on_both))


def basic(officer_id: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{officer_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(district: District, device_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[device_id]}"}


def record(
    seed: int,
    *,
    station: str = "alpha",
    beat: str = "alpha-one",
    officer: str = "so-alpha",
    record_type: str = "visitor_entry",
) -> dict[str, Any]:
    return sample_record(
        random.Random(seed), record_type, station_id=station, beat_ids=[beat], officer=officer
    )


def signed(doc: dict[str, Any], district: District, device_id: str) -> dict[str, Any]:
    """``doc`` signed as the edit the gateway will see: of ``_revisions``' second
    rev for a replicated revision, else of its ``_rev`` (None: a new record)."""
    if "_revisions" in doc:
        path = path_from_revisions(doc["_revisions"])
        parent = path[1] if len(path) > 1 else None
    else:
        parent = doc.get("_rev")
    return signing.sign(doc, district.keys[device_id], device_id, parent=parent)


async def bulk_docs(
    client: TestClient[Any, Any],
    docs: list[dict[str, Any]],
    headers: dict[str, str],
    *,
    new_edits: bool = True,
    station: str = "alpha",
) -> Any:
    """POST ``docs`` to the station's ``_bulk_docs``; the per-document answers."""
    answer = await client.post(
        f"/station-{station}/_bulk_docs",
        json={"docs": docs, "new_edits": new_edits},
        headers=headers,
    )
    assert answer.status == 201, await answer.text()
    return await answer.json()


async def store_of(client: TestClient[Any, Any], station: str = "alpha") -> Database:
    return await client.server.app[STORES].get(station)


def state_of(client: TestClient[Any, Any]) -> Any:
    return client.server.app[STATE]


def field_edits(
    district: District, device_id: str, docs: list[dict[str, Any]], officer: str = "so-alpha"
) -> list[dict[str, Any]]:
    """What a device pushes after creating ``docs`` offline: each record's first
    revision and its journal entry (both signed), as ``new_edits=false`` docs."""
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for doc in docs:
        rev = new_rev(None, False, doc)
        stored = signed(
            {**doc, "_rev": rev, "_revisions": {"start": 1, "ids": [rev[2:]]}}, district, device_id
        )
        envelope = {k: doc[k] for k in ("station_id", "beat_id", "created_at", "updated_at")}
        entry = journal.next_entry(
            prev,
            device_id=device_id,
            record_id=doc["_id"],
            record_type=doc["type"],
            rev=rev,
            parent_rev=None,
            action="create",
            at=doc["created_at"],
            envelope={**envelope, "created_by": officer, "updated_by": officer},
        )
        prev = entry
        entry_rev = new_rev(None, False, entry)
        out += [
            stored,
            signed(
                {**entry, "_rev": entry_rev, "_revisions": {"start": 1, "ids": [entry_rev[2:]]}},
                district,
                device_id,
            ),
        ]
    return out
