"""What the CouchDB-backend and hub tests share: a provisioned district in a
CouchDB (pouchdb-server here), gateways on loopback, and field devices.

A device is what the field client is underneath: an embedded SQLite store,
records signed with the device's Ed25519 key, and the replicator talking to
a gateway through :class:`HttpDatabase` with the bearer token from
``POST /_beatsync/enrol``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.identity import Role
from schemas.samples import sample_record
from server.config import GatewayConfig
from server.couch.backend import CouchServer, couch_credentials, with_credentials
from server.couch.bootstrap import BootstrapReport, bootstrap
from server.couch.state import CouchGatewayState
from server.gateway.app import create_app
from server.policy import admin
from server.state.data_key import unlock_data_key
from server.state.models import station_db_name
from sync import signing
from sync.database import Database, Doc
from sync.errors import NotFound
from sync.http import HttpDatabase
from sync.replication import ReplicationResult, RetryPolicy, replicate
from tests import peers

PASSWORD = "station-pass-1"
# Replications in tests retry quickly and give up after a few failures, so a
# test that expects a failure does not sit in backoff.
QUICK_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.5, max_retries=3)


@dataclass(frozen=True)
class StationPlan:
    """One station of a test district: its officers are ``so-<id>`` and ``bo-<id>``."""

    station_id: str

    @property
    def beat_id(self) -> str:
        return f"{self.station_id}-one"

    @property
    def station_officer(self) -> str:
        return f"so-{self.station_id}"

    @property
    def beat_officer(self) -> str:
        return f"bo-{self.station_id}"

    @property
    def db(self) -> str:
        return station_db_name(self.station_id)


GATEWAY_USER = "beatsync-gateway"
GATEWAY_PASSWORD = "gateway-secret-pw"


# $BEATSYNC_TEST_COUCHDB switches these tests to a real CouchDB (tests/README.md).
EXTERNAL_COUCHDB_ENV = peers.EXTERNAL_COUCHDB_ENV
external_couchdb = peers.external_couchdb
couch_server = peers.couch_server


def as_user(couch_url: str, user: str, password: str) -> str:
    """``couch_url`` with other credentials (replacing any it carries)."""
    return with_credentials(couch_credentials(couch_url, {})[0], "", (user, password))


def gateway_couch_url(couch_url: str) -> str:
    """The CouchDB URL as the gateways use it: with their own (non-admin) account."""
    return as_user(couch_url, GATEWAY_USER, GATEWAY_PASSWORD)


async def provision(couch_url: str, *plans: StationPlan) -> BootstrapReport:
    """Stations, beats and officers in CouchDB, then ``couch bootstrap``.

    ``couch_url`` is the admin's URL (pouchdb-server's "admin party": no
    credentials); bootstrap creates the gateway's own account, which
    ``_security`` then names as the only member of every database.
    """

    def run_bootstrap() -> BootstrapReport:
        return bootstrap(couch_url, gateway_user=GATEWAY_USER, gateway_password=GATEWAY_PASSWORD)

    # bootstrap creates the identities database; run it first so the repo can write.
    await asyncio.to_thread(run_bootstrap)
    state = CouchGatewayState(CouchServer.from_url(gateway_couch_url(couch_url)))
    try:
        for plan in plans:
            await state.add_station(plan.station_id, plan.station_id.title())
            await state.add_beat(plan.station_id, plan.beat_id, "Beat one")
            await admin.add_officer(
                state,
                plan.station_officer,
                "SO",
                Role.STATION_OFFICER,
                PASSWORD,
                station_id=plan.station_id,
            )
            await admin.add_officer(
                state,
                plan.beat_officer,
                "BO",
                Role.BEAT_OFFICER,
                PASSWORD,
                station_id=plan.station_id,
                beat_id=plan.beat_id,
            )
        if await state.get_officer("central") is None:
            await admin.add_officer(state, "central", "Central", Role.CENTRAL_OFFICE, PASSWORD)
    finally:
        await state.close()
    return await asyncio.to_thread(run_bootstrap)


async def bootstrap_stations(couch_url: str, stations: Sequence[str]) -> BootstrapReport:
    """``couch bootstrap`` of ``stations`` with the gateways' account, off the loop."""
    return await asyncio.to_thread(
        bootstrap,
        couch_url,
        gateway_user=GATEWAY_USER,
        gateway_password=GATEWAY_PASSWORD,
        stations=list(stations),
    )


def central_state(couch_url: str) -> CouchGatewayState:
    """The district's state as a gateway (or the admin CLI) sees it."""
    return CouchGatewayState(CouchServer.from_url(gateway_couch_url(couch_url)))


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL; shut it down."""
    # A short grace at shutdown: a relayed longpoll may still be waiting on
    # CouchDB for a client that is gone (production keeps `serve`'s 30 s).
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def couch_gateway(
    couch_url: str, data_dir: Path, *, timeout_s: float = 15.0
) -> AsyncIterator[str]:
    """A gateway process's app over the CouchDB at ``couch_url``, as the gateway user."""
    config = GatewayConfig(
        data_dir=data_dir, couchdb_url=gateway_couch_url(couch_url), couchdb_timeout_s=timeout_s
    )
    async with running(create_app(config)) as url:
        yield url


HUB_PASSPHRASE = "station officer's passphrase"


def hub_config(hub_dir: Path) -> GatewayConfig:
    """A station hub's settings, its data key unlocked (made on first use) as
    `serve --hub` does with the station officer's passphrase."""
    return GatewayConfig(
        data_dir=hub_dir, at_rest=unlock_data_key(hub_dir, passphrase=HUB_PASSPHRASE)
    )


async def open_sqlite(path: Path) -> Database:
    from sync.sqlite import SQLiteDatabase

    return await SQLiteDatabase.open(path)


@dataclass
class Device:
    """A field device: its own SQLite replica, key and token for one station."""

    plan: StationPlan
    officer_id: str
    store: Database
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    device_id: str = ""
    token: str = ""
    _remotes: list[HttpDatabase] = field(default_factory=list)

    @classmethod
    async def open(cls, plan: StationPlan, path: Path, officer_id: str | None = None) -> Device:
        return cls(plan, officer_id or plan.beat_officer, await open_sqlite(path))

    async def enrol(self, gateway_url: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            answer = await session.post(
                f"{gateway_url}/_beatsync/enrol",
                json={
                    "officer_id": self.officer_id,
                    "password": PASSWORD,
                    "device_name": "test tablet",
                    "public_key": signing.public_key_to_b64(self.key.public_key()),
                },
            )
            body = await answer.json()
            assert answer.status == 201, body
        self.device_id, self.token = body["device_id"], body["token"]
        return dict(body)

    def remote(self, gateway_url: str) -> HttpDatabase:
        db = HttpDatabase(f"{gateway_url}/{self.plan.db}", auth=self.token, request_timeout=10)
        self._remotes.append(db)
        return db

    def new_record(self, seed: int) -> Doc:
        doc = sample_record(
            random.Random(seed),
            "visitor_entry",
            station_id=self.plan.station_id,
            beat_ids=[self.plan.beat_id],
            officer=self.officer_id,
        )
        return signing.sign(doc, self.key, self.device_id, parent=None)

    async def record(self, seeds: Iterable[int]) -> list[str]:
        """Create one signed record per seed in the local store; their ids."""
        docs = [self.new_record(seed) for seed in seeds]
        results = await self.store.bulk_docs(docs)
        assert all(r.get("ok") for r in results), results
        return [d["_id"] for d in docs]

    async def edit(self, doc_id: str, purpose: str) -> str:
        """Edit a record's purpose locally (re-signed); the new rev."""
        current = await self.store.get(doc_id)
        current.update(purpose=purpose, updated_by=self.officer_id)
        current.pop("signature", None)
        resigned = signing.sign(current, self.key, self.device_id, parent=current["_rev"])
        answer = await self.store.put(resigned)
        return str(answer["rev"])

    async def push(self, gateway_url: str, **options: Any) -> ReplicationResult:
        return await replicate(self.store, self.remote(gateway_url), retry=QUICK_RETRY, **options)

    async def pull(self, gateway_url: str, **options: Any) -> ReplicationResult:
        return await replicate(self.remote(gateway_url), self.store, retry=QUICK_RETRY, **options)

    async def sync(self, gateway_url: str) -> None:
        await self.push(gateway_url)
        await self.pull(gateway_url)

    async def close(self) -> None:
        for remote in self._remotes:
            await remote.close()
        await self.store.close()


async def doc_ids(db: Database) -> set[str]:
    """Every record id (deleted ones too), without local or design documents."""
    changes = await db.changes(style="all_docs")
    return {r["id"] for r in changes["results"] if not r["id"].startswith("_")}


async def winners(db: Database, ids: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """Per id: the winning rev and the sorted conflicting leaves, as this replica reports them."""
    out: dict[str, tuple[str, list[str]]] = {}
    for doc_id in ids:
        try:
            doc = await db.get(doc_id, conflicts=True)
        except NotFound:
            leaves = await db.open_revs(doc_id, "all", include_revisions=False)
            revs = sorted(item["ok"]["_rev"] for item in leaves if "ok" in item)
            out[doc_id] = ("deleted", revs)
            continue
        out[doc_id] = (doc["_rev"], sorted(doc.get("_conflicts", [])))
    return out


async def wait_for(predicate: Any, *, attempts: int = 200, every: float = 0.1) -> None:
    """Poll an async predicate until it holds (or fail): for work done in the background."""
    for _ in range(attempts):
        if await predicate():
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached")


def require_pouchdb_server() -> None:
    peers.require(peers.POUCHDB_SERVER.exists(), "pouchdb-server (npm)")
