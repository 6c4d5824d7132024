"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests import peers
from tests.browser import open_browser  # noqa: F401  (the browser fixture, for every test package)


@pytest.fixture(scope="session")
def pouchdb_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of one pouchdb-server for the whole session (tests use fresh db names)."""
    with peers.pouchdb_server(tmp_path_factory.mktemp("pouchdb-server")) as url:
        yield url


@pytest.fixture(scope="session")
def couch_peer(request: pytest.FixtureRequest) -> Iterator[peers.CouchPeer]:
    """One server for the session (tests use fresh database names and delete them)."""
    external = peers.external_couchdb()
    if external is not None:
        with peers.external_couch(external) as url:
            yield peers.CouchPeer(url, couchdb3=True)
        return
    yield peers.CouchPeer(request.getfixturevalue("pouchdb_server_url"), couchdb3=False)


@pytest.fixture
def unique_db_name() -> str:
    """A database name no other test uses (CouchDB names: lowercase, start with a letter)."""
    return f"test-{uuid4().hex[:12]}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _remove_what_the_test_made_on_an_external_couchdb() -> Iterator[None]:
    """On $BEATSYNC_TEST_COUCHDB, every test removes the databases, users and
    _replicator documents (so the continuous replications) it created: a real
    server outlives the run, unlike a test's own pouchdb-server. Fixtures of a
    wider scope are set up before this snapshot and removed at their end."""
    url = peers.external_couchdb()
    if url is None:
        yield
        return
    with peers.external_couch(url):
        yield
