"""BeatSync's own endpoints under ``/_beatsync/``: enrolment, identity, oversight.

* ``POST /_beatsync/enrol``: a device enrols with an officer's credentials and
  its Ed25519 public key, and gets its own revocable bearer token.
* ``GET /_beatsync/whoami``: the caller's identity.
* ``GET /_beatsync/audit``: the append-only write log joined with the devices'
  offline edit journals (central office).
* ``GET /_beatsync/devices``: per-device sync status (central office).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from schemas.identity import Role
from server.gateway.field_edits import field_edits_page
from server.gateway.keys import (
    AUTHENTICATOR,
    LOGIN_ATTEMPT,
    PRINCIPAL,
    SERVER_UUID,
    STATE,
    STORES,
)
from server.gateway.request import int_param, json_response, read_json_object
from server.policy.access import require_principal, require_role
from server.policy.auth import new_token, token_expires_at, token_hash
from server.state.interface import GatewayState
from server.state.models import station_db_name, station_of_db
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync import signing
from sync.errors import BadRequest, NotFound

__all__ = ["add_beatsync_routes", "device_rows", "seq_number"]

_MAX_DEVICE_NAME = 100
# An enrolment is four short strings; anyone may send one, so anyone could
# otherwise make the gateway inflate max_body_bytes of a gzip bomb.
_MAX_ENROL_BYTES = 16 * 1024


def _string_field(body: dict[str, Any], name: str, max_len: int = 1000) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise BadRequest(f"{name} must be a non-empty string of at most {max_len} characters")
    return value


async def enrol(request: web.Request) -> web.Response:
    body = await read_json_object(request, _MAX_ENROL_BYTES)
    officer_id = _string_field(body, "officer_id", 64)
    request[LOGIN_ATTEMPT] = officer_id
    password = _string_field(body, "password", 1000)
    device_name = _string_field(body, "device_name", _MAX_DEVICE_NAME)
    public_key = _string_field(body, "public_key", 100)
    try:
        signing.public_key_from_b64(public_key)
    except ValueError as exc:
        raise BadRequest(f"public_key: {exc} (base64 of the 32 raw bytes)") from None
    officer = await request.app[AUTHENTICATOR].login(
        officer_id, password, request.remote or "unknown"
    )
    token = new_token()
    authenticator = request.app[AUTHENTICATOR]
    device = await request.app[STATE].add_device(
        f"dev-{secrets.token_hex(8)}",
        officer.id,
        device_name,
        public_key,
        token_hash(token),
        enrolled_at=utc_now(authenticator.clock()),  # the clock expiry is judged by
    )
    expires = token_expires_at(device, authenticator.token_days)
    return json_response(
        {
            "device_id": device.id,
            "token": token,
            "officer_id": officer.id,
            "station_id": officer.station_id,
            "beat_id": officer.beat_id,
            "role": officer.role.value,
            "db": station_db_name(officer.station_id) if officer.station_id else None,
            "server_uuid": request.app[SERVER_UUID],
            "token_expires_at": utc_now(expires),
        },
        status=201,
    )


async def whoami(request: web.Request) -> web.Response:
    return json_response(require_principal(request.get(PRINCIPAL)).public())


async def audit(request: web.Request) -> web.Response:
    require_role(request.get(PRINCIPAL), Role.CENTRAL_OFFICE)
    db = request.query.get("db")
    since = int_param(request, "since", 0) or 0
    limit = int_param(request, "limit", 1000, minimum=1) or 1000
    state = request.app[STATE]
    writes = await state.read(db=db, since=since, limit=min(limit, 10_000))
    answer: dict[str, Any] = {
        "writes": [w.public() for w in writes],
        "last_seq": writes[-1].seq if writes else since,
    }
    if db is not None:
        station_id = station_of_db(db)
        if station_id is None or await state.get_station(station_id) is None:
            raise NotFound("Database does not exist.")
        store = await request.app[STORES].get(station_id)
        answer |= await field_edits_page(
            state, store, db, after=request.query.get("journal_after"), limit=min(limit, 10_000)
        )
    return json_response(answer)


def seq_number(seq: Any) -> int | None:
    """The numeric part of an update sequence (an int here, ``"N-..."`` in CouchDB 3)."""
    if isinstance(seq, int) and not isinstance(seq, bool):
        return seq
    if isinstance(seq, str):
        head = seq.split("-", 1)[0]
        return int(head) if head.isdigit() else None
    return None


async def device_rows(state: GatewayState, stores: StationDatabases) -> list[dict[str, Any]]:
    """Every device's sync status: what it reported at its last contact, its
    officer's station, and how many changes of that station it has not pulled
    (the JSON endpoint and the office's device page)."""
    officers = {o.id: o for o in await state.list_officers()}
    devices = await state.list_devices()
    stations = sorted(
        {o.station_id for d in devices if (o := officers.get(d.officer_id)) and o.station_id}
    )

    async def update_seq(station_id: str) -> int | None:
        info = await (await stores.get(station_id)).info()
        return seq_number(info.get("update_seq"))

    # One info per station, all at once: 30 stations in CouchDB are 30 round trips.
    heads = await asyncio.gather(*(update_seq(s) for s in stations))
    update_seqs = dict(zip(stations, heads, strict=True))
    rows = []
    for device in devices:
        officer = officers.get(device.officer_id)
        station_id = officer.station_id if officer else None
        head = update_seqs.get(station_id) if station_id else None
        pulled = seq_number(device.last_seq)
        rows.append(
            {
                **device.public(),
                # An officer's revocation ends every device of theirs: not silent, gone.
                "revoked": device.revoked or (officer is not None and officer.revoked),
                "station_id": station_id,
                "station_update_seq": head,
                # How many changes of its station the device has not pulled yet.
                "behind": head - pulled if head is not None and pulled is not None else head,
            }
        )
    return rows


async def devices(request: web.Request) -> web.Response:
    require_role(request.get(PRINCIPAL), Role.CENTRAL_OFFICE)
    return json_response({"devices": await device_rows(request.app[STATE], request.app[STORES])})


def add_beatsync_routes(app: web.Application) -> None:
    app.router.add_post("/_beatsync/enrol", enrol)
    app.router.add_get("/_beatsync/whoami", whoami)
    app.router.add_get("/_beatsync/audit", audit)
    app.router.add_get("/_beatsync/devices", devices)
