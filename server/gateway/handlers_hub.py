"""``GET /_beatsync/hub/identities``: what a station hub needs to authenticate offline.

Served by the district gateway. A station hub is a device enrolled by one of
the station's station officers and then authorised by the district
(``beatsync-server hub authorise DEVICE``, which records the setting
``hub:<device_id>`` = station id). Only that credential gets the answer:

* the station, its beats, and its officers with their scrypt password
  hashes and revocation flags;
* the devices of those officers with their public keys, the SHA-256 of their
  tokens (256-bit random tokens: the hash reveals nothing usable) and their
  revocation flags.

Nothing of any other station, and no central office or admin account, is
ever included: a stolen station PC exposes its own station's hashes only,
and revoking the hub device (or its officer) cuts it off at once.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from schemas.identity import Role
from server.gateway.keys import PRINCIPAL, STATE
from server.gateway.request import json_response
from server.policy.access import require_principal
from server.state.interface import IdentityRepo, Settings
from server.state.models import Principal
from server.state.timestamps import utc_now
from sync.errors import Forbidden

__all__ = ["HUB_IDENTITIES_PATH", "add_hub_routes", "hub_setting", "station_snapshot"]

HUB_IDENTITIES_PATH: Final = "/_beatsync/hub/identities"


def hub_setting(device_id: str) -> str:
    """The district setting naming the station a hub device serves."""
    return f"hub:{device_id}"


async def hub_station(principal: Principal | None, settings: Settings) -> str:
    """The station the caller is the authorised hub of, or ``Forbidden``."""
    who = require_principal(principal)
    officer, device = who.officer, who.device
    refused = Forbidden("Only the station hub's own credential may fetch its identities.")
    if device is None or officer.role is not Role.STATION_OFFICER or officer.station_id is None:
        raise refused
    if await settings.get_setting(hub_setting(device.id)) != officer.station_id:
        raise refused
    return officer.station_id


async def station_snapshot(identities: IdentityRepo, station_id: str) -> dict[str, Any]:
    """Everything about one station that its hub caches (see the module docstring)."""
    station = await identities.get_station(station_id)
    if station is None:
        raise Forbidden("The hub's station no longer exists.")
    officers = await identities.list_officers(station_id)
    devices: list[dict[str, Any]] = []
    for officer in officers:
        for device in await identities.list_devices(officer.id):
            devices.append(
                {
                    "device_id": device.id,
                    "officer_id": device.officer_id,
                    "name": device.name,
                    "public_key": device.public_key,
                    "enrolled_at": device.enrolled_at,
                    "revoked": device.revoked,
                    "token_hash": await identities.device_token_hash(device.id),
                }
            )
    return {
        "station": {"id": station.id, "name": station.name, "beat_scoped": station.beat_scoped},
        "beats": [{"id": b.id, "name": b.name} for b in await identities.list_beats(station_id)],
        "officers": [{**o.public(), "password_hash": o.password_hash} for o in officers],
        "devices": devices,
        "at": utc_now(),
    }


async def hub_identities(request: web.Request) -> web.Response:
    state = request.app[STATE]
    station_id = await hub_station(request.get(PRINCIPAL), state)
    response = json_response(await station_snapshot(state, station_id))
    # Password hashes: never in any cache between the centre and the hub.
    response.headers["Cache-Control"] = "no-store"
    return response


def add_hub_routes(app: web.Application) -> None:
    app.router.add_get(HUB_IDENTITIES_PATH, hub_identities)
