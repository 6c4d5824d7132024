"""Fixtures of the field client tests: an officer's replica in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.field_client.support import PASSPHRASE

if TYPE_CHECKING:
    from field_client.replica import FieldReplica


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "device"


@pytest.fixture
async def replica(home: Path) -> AsyncIterator[FieldReplica]:
    from field_client.replica import FieldReplica

    opened = await FieldReplica.create(
        home, PASSPHRASE, officer_id="si.sharma", station_id="kotwali", beat_id="beat-3"
    )
    yield opened
    await opened.close()
