"""The gateway's data folder is owner-only: 0700 folders, 0600 files (identities with
password hashes, the audit log, station stores with citizens' records, their WAL and
shared-memory files, the audit signing key), also when an older install left them open."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.gateway.app import create_app
from tests.at_rest import loose_modes
from tests.server.conftest import District, basic, bulk_docs, record


def _loosen(root: Path) -> None:
    """What a default umask of 022 made before this version."""
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


async def test_the_gateway_data_folder_is_owner_only_after_writes(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    district: District,
    config: GatewayConfig,
) -> None:
    _loosen(config.data_dir)
    assert loose_modes(config.data_dir) != []
    client = await aiohttp_client(create_app(config))
    answer = await bulk_docs(client, [record(1)], basic("so-alpha"))
    assert all(row.get("ok") for row in answer), answer
    names = {p.name for p in config.data_dir.rglob("*")}
    assert {"gateway.sqlite", "gateway.sqlite-wal", "alpha.sqlite", "alpha.sqlite-wal"} <= names
    assert loose_modes(config.data_dir) == []
