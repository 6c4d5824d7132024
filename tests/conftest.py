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


@pytest.fixture
def unique_db_name() -> str:
    """A database name no other test uses (CouchDB names: lowercase, start with a letter)."""
    return f"test-{uuid4().hex[:12]}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
