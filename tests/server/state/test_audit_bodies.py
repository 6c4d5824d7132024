"""The audit log keeps each accepted body, on both backends: the write path
judges a replicated edit against it once the store has compacted it away."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from server.state import sqlite as state_module
from server.state.interface import GatewayState
from server.state.models import NewAuditEntry
from server.state.sqlite import SQLiteGatewayState
from tests.server.couch_support import central_state, couch_server, provision


@pytest.fixture(scope="module")
def couch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with couch_server(tmp_path_factory.mktemp("couch")) as url:
        yield url


@pytest.fixture(params=["sqlite", "couch"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GatewayState]:
    if request.param == "sqlite":
        opened: GatewayState = await SQLiteGatewayState.open(tmp_path / "gateway.sqlite")
    else:
        url = request.getfixturevalue("couch_url")
        await provision(url)
        opened = central_state(url)
    try:
        yield opened
    finally:
        await opened.close()


def _entry(db: str, doc_id: str, rev: str, body: dict[str, object] | None) -> NewAuditEntry:
    return NewAuditEntry(db, doc_id, rev, "so", None, "complaint", False, "unsigned", body=body)


async def test_the_log_returns_the_bodies_it_keeps_of_the_asked_revisions(
    state: GatewayState,
) -> None:
    db, other = f"station-{uuid4().hex[:8]}", f"station-{uuid4().hex[:8]}"
    body = {"_id": "c1", "_rev": "1-a", "type": "complaint", "note": "नोट"}
    await state.append(
        [
            _entry(db, "c1", "1-a", body),
            _entry(db, "c1", "2-b", {"_id": "c1", "_rev": "2-b"}),
            _entry(db, "c2", "1-c", None),  # written before bodies were kept
            _entry(other, "c1", "1-a", {"_id": "c1", "_rev": "1-a", "elsewhere": True}),
        ]
    )
    asked = {("c1", "1-a"), ("c2", "1-c"), ("c3", "1-d")}
    assert await state.bodies(db, asked) == {("c1", "1-a"): body}
    assert await state.bodies(db, set()) == {}
    # The body is kept beside the entry, not instead of it.
    assert await state.audited(db, asked) == {("c1", "1-a"), ("c2", "1-c")}


async def test_a_gateway_file_from_before_keeps_its_entries_and_gains_bodies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.sqlite"
    with sqlite3.connect(path) as old:  # the file as version 1 left it
        old.executescript(state_module._MIGRATIONS[0] + "PRAGMA user_version = 1;")
        old.execute(
            "INSERT INTO audit (at, db, doc_id, rev, officer_id, deleted, signed)"
            " VALUES ('2026-01-01T00:00:00Z', 'station-a', 'c1', '1-a', 'so', 0, 'unsigned')"
        )
    state = await SQLiteGatewayState.open(path)
    try:
        assert [e.doc_id for e in await state.read()] == ["c1"]
        await state.append([_entry("station-a", "c2", "1-b", {"_id": "c2"})])
        assert await state.bodies("station-a", {("c1", "1-a"), ("c2", "1-b")}) == {
            ("c2", "1-b"): {"_id": "c2"}
        }
    finally:
        await state.close()
