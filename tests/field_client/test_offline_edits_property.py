"""Property: whatever officers' devices accept offline, the centre accepts, and all converge.

Two to four real encrypted replicas (beat officers and a station officer of
one station) are enrolled at a real gateway on loopback, on each backend (its embedded
store, and a CouchDB: pouchdb-server, or $BEATSYNC_TEST_COUCHDB). They start from the
same records, then edit them offline in every way their roles allow: notes
added to the action log, assignment, investigation, closing (station officer
only), description changes. Then each syncs, in an order hypothesis picks,
until nothing moves. Properties:

* nothing any device saved is refused at the centre (every sync reports no
  refusal), and every revision a device made is in the centre's history;
* every replica and the centre end with the same leaves and the same winner
  for every record (the branches are there for the domain merge);
* every device's journal chain reached the centre intact.

Before the gateway judged a replicated edit against its own parent, two
additions to the same action log were refused forever on every sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from field_client.records import now_stamp
from field_client.replica import FieldReplica
from schemas.identity import Role
from server.config import GatewayConfig
from server.couch.bootstrap import bootstrap
from server.gateway.app import create_app, open_state
from server.gateway.keys import STORES
from server.policy import admin
from sync import journal
from sync.database import Database
from sync.errors import Conflict
from tests import peers
from tests.field_client.support import PASSPHRASE, complaint, visitor
from tests.server.couch_support import GATEWAY_PASSWORD, GATEWAY_USER, gateway_couch_url

PASSWORD = "officer-password-1"
# (officer id, role): the first creates the records; a station officer may close them.
OFFICERS = [
    ("si.sharma", Role.BEAT_OFFICER),
    ("so.verma", Role.STATION_OFFICER),
    ("hc.yadav", Role.BEAT_OFFICER),
    ("asi.khan", Role.BEAT_OFFICER),
]
ACTIONS = ("note", "assign", "investigate", "resolve", "close", "describe", "visitor")
RECORDS = 3  # two complaints and a visitor entry


def _edited(doc: dict[str, Any], action: str, officer: str, n: int) -> dict[str, Any] | None:
    """``doc`` after ``officer``'s ``action`` (None: the action does not apply to it)."""
    at = now_stamp()
    if doc["type"] == "visitor_entry":
        return (
            {**doc, "purpose": f"Purpose noted by {officer} ({n})"} if action == "visitor" else None
        )
    if action in ("visitor",):
        return None
    steps = {
        "assign": ("registered", "assigned"),
        "investigate": ("assigned", "under_investigation"),
        "resolve": ("under_investigation", "resolved"),
        "close": (doc["status"], "closed"),
    }
    new = {**doc, "action_log": [*doc["action_log"]]}
    if action in steps:
        before, after = steps[action]
        if doc["status"] != before or doc["status"] == after:
            return None
        new["status"] = after
        if after == "assigned":
            new["assigned_officer"] = officer
    elif action == "describe":
        new["description"] = f"{doc['description']} (detail {n} from {officer})"
    new["action_log"].append({"at": at, "by": officer, "action": action, "note": f"#{n}"})
    return new


async def _leaves(db: Database, doc_id: str) -> tuple[str, list[str]]:
    winner = (await db.get(doc_id))["_rev"]
    leaves = sorted(row["ok"]["_rev"] for row in await db.open_revs(doc_id, "all") if "ok" in row)
    return winner, leaves


async def _provision(config: GatewayConfig) -> None:
    state = await open_state(config)
    try:
        await state.add_station("kotwali", "Kotwali police station")
        await state.add_beat("kotwali", "beat-3", "Beat 3")
        for officer, role in OFFICERS:
            beat = "beat-3" if role is Role.BEAT_OFFICER else None
            await admin.add_officer(
                state, officer, officer, role, PASSWORD, station_id="kotwali", beat_id=beat
            )
    finally:
        await state.close()


@contextlib.contextmanager
def _gateway_config(root: Path, backend: str) -> Iterator[GatewayConfig]:
    """The gateway's settings on ``backend``: its embedded store, or a CouchDB
    (pouchdb-server, or $BEATSYNC_TEST_COUCHDB) bootstrapped for the station."""
    if backend == "embedded":
        yield GatewayConfig(data_dir=root / "gateway")
        return
    with peers.couch_server(root / "couch") as url:
        bootstrap(
            url, gateway_user=GATEWAY_USER, gateway_password=GATEWAY_PASSWORD, stations=["kotwali"]
        )
        yield GatewayConfig(data_dir=root / "gateway", couchdb_url=gateway_couch_url(url))


async def _history(db: Database, doc_id: str) -> set[str]:
    """Every revision in ``doc_id``'s tree: its leaves and their ancestors.

    Not ``_revs_diff``: CouchDB 3 answers it from the tree (an ancestor is not
    missing), but pouchdb-server reports an ancestor whose body it never
    received as missing (PouchDB's revsDiff checks the body is available), and
    a replicator only ever sends leaves' bodies."""
    revs: set[str] = set()
    for row in await db.open_revs(doc_id, "all"):
        if "ok" in row:
            history = row["ok"]["_revisions"]
            revs.update(
                f"{history['start'] - n}-{rev_id}" for n, rev_id in enumerate(history["ids"])
            )
    return revs


async def _scenario(
    config: GatewayConfig,
    root: Path,
    devices: int,
    edits: Sequence[tuple[int, int, str]],
    order: Sequence[int],
) -> None:
    await _provision(config)
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    replicas: list[FieldReplica] = []
    try:
        for index, (officer, _) in enumerate(OFFICERS[:devices]):
            replica = await FieldReplica.create(
                root / f"device-{index}",
                PASSPHRASE,
                officer_id=officer,
                station_id="unassigned",
                beat_id="beat-3",
            )
            replicas.append(replica)
            await replica.enrol(f"http://127.0.0.1:{port}", password=PASSWORD, device_name=officer)
        first = replicas[0]
        ids = [
            (await first.save_record(complaint("Phone snatched near the bus stand.")))[0],
            (await first.save_record(complaint("Bicycle stolen from the market.")))[0],
            (await first.save_record(visitor()))[0],
        ]
        for replica in replicas:
            assert (await replica.sync()).refused == ()

        made: dict[str, set[str]] = {doc_id: set() for doc_id in ids}
        for n, (device, record, action) in enumerate(edits):
            replica = replicas[device % devices]
            doc = await replica.get_record(ids[record % RECORDS])
            new = _edited(doc, action, replica.settings.officer_id, n)
            if new is None:
                continue
            try:
                doc_id, rev = await replica.save_record(new)
            except (schemas.RecordInvalid, Conflict):
                continue  # the device refused it already: not this officer's to do
            made[doc_id].add(rev)

        for _ in range(3):  # until every device has every branch
            for index in order:
                report = await replicas[index % devices].sync()
                assert report.refused == (), report.refused
        centre = await app[STORES].get("kotwali")
        for doc_id, revs in made.items():
            assert revs <= await _history(centre, doc_id), doc_id
        for doc_id in ids:
            expected = await _leaves(centre, doc_id)
            for replica in replicas:
                assert await _leaves(replica.db, doc_id) == expected
        entries = [
            row["doc"]
            for row in (
                await centre.all_docs(
                    startkey="journal-", endkey="journal-\ufff0", include_docs=True
                )
            )["rows"]
        ]
        assert journal.verify_chain(entries) == []
        assert len(entries) == RECORDS + sum(len(v) for v in made.values())
    finally:
        for replica in replicas:
            await replica.close()
        await runner.cleanup()


@pytest.mark.parametrize("backend", ["embedded", "couch"])
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    devices=st.integers(min_value=2, max_value=4),
    edits=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, RECORDS - 1), st.sampled_from(ACTIONS)),
        min_size=2,
        max_size=14,
    ),
    order=st.permutations(range(4)),
)
def test_offline_edits_all_reach_the_centre_and_converge(
    backend: str, devices: int, edits: list[tuple[int, int, str]], order: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as root, _gateway_config(Path(root), backend) as config:
        asyncio.run(_scenario(config, Path(root), devices, edits, order))
