"""The portal mounted on a gateway of the test district (both backends), with
a locality table and one officer's meeting hours, as an admin would set them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import CONFIG, STATE
from server.portal.api import create_portal_api
from server.portal.app import attach_portal, create_portal
from server.portal.directory import (
    WEEKDAYS,
    Locality,
    Schedule,
    add_locality,
    save_schedule,
    set_station_address,
)
from server.portal.district_keys import create_key
from server.portal.services import Limits
from tests.server.conftest import backend, config_on_both, couch_district, district_on_both

__all__ = ["backend", "config_on_both", "couch_district", "district_on_both"]

STATION_ADDRESS = "Station Road, Alpha Nagar"
# Every hour of every day, so a test finds free slots whenever it runs.
ALL_DAY = {day: ["00:00-23:30"] for day in WEEKDAYS}


async def provision_portal(app: Any) -> None:
    state = app[STATE]
    await add_locality(state, Locality("Civil Lines", "alpha", "alpha-two"))
    await add_locality(state, Locality("Bravo Bazaar", "bravo", "bravo-one"))
    await set_station_address(state, "alpha", STATION_ADDRESS)
    await save_schedule(state, Schedule("so-alpha", "alpha", "sho", 30, ALL_DAY))


def portal_site(config: GatewayConfig, limits: Limits | None = None) -> Any:
    app = create_app(config)
    app.add_subapp("/portal/", create_portal(limits))
    app.add_subapp("/_beatsync/portal/", create_portal_api())
    attach_portal(app)

    async def provision(app: Any) -> None:
        await provision_portal(app)
        await provision_keys(app)

    app.on_startup.append(provision)
    return app


@pytest.fixture
def limits() -> Limits:
    return Limits(per_address=1000, per_phone=1000)


@pytest.fixture
async def portal(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
    limits: Limits,
) -> TestClient[Any, Any]:
    return await aiohttp_client(portal_site(config_on_both, limits))


async def provision_keys(app: Any) -> None:
    await create_key(app[STATE], app[CONFIG].data_dir, rotate=False)
