"""The portal writes through the gateway's one write path (schema, station,
lifecycle, audit), as the citizen it acts for.

The citizen is ``citizen:<ref>`` (a random reference per submission, no
personal data): the audit log names that actor, the lifecycle gives it the
citizen's rights only (create; cancel an appointment). The portal's writes
are unsigned (no device made them) and audited so, whatever the district's
unsigned-writes setting, which governs officers' clients.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from schemas.identity import Role
from server.policy.access import DbScope
from server.policy.writes import WriteDeps, raise_for_result, write_docs
from server.state.interface import GatewayState
from server.state.models import Officer, Principal, station_db_name
from server.state.stations import StationDatabases
from sync.database import Doc
from sync.errors import NotFound

__all__ = ["new_citizen_ref", "read_record", "write_record"]


def new_citizen_ref() -> str:
    return secrets.token_hex(8)


def _citizen(actor: str, station_id: str) -> Principal:
    # The least-privileged role; the lifecycle sees the citizen (Author.role).
    return Principal(
        Officer(actor, "citizen", Role.BEAT_OFFICER, station_id, None, password_hash="")
    )


async def write_record(
    state: GatewayState, stores: StationDatabases, doc: Mapping[str, Any]
) -> str:
    """Store ``doc`` (new, or with its ``_rev``) for the citizen named in its
    ``updated_by``; its new rev, or the write path's refusal (409 conflict, 403)."""
    station_id = doc["station_id"]
    station = await state.get_station(station_id)
    if station is None:
        raise NotFound(f"no station {station_id}")
    actor = doc["updated_by"]
    scope = DbScope(_citizen(actor, station_id), station, station_db_name(station_id))
    deps = WriteDeps(identities=state, audit=state, refuse_unsigned=False)
    store = await stores.get(station_id)
    [result] = await write_docs(scope, store, deps, [dict(doc)], new_edits=True)
    raise_for_result(result)
    return str(result["rev"])


async def read_record(stores: StationDatabases, station_id: str, doc_id: str) -> Doc:
    """The record's winning revision as the station has it now (after sync)."""
    store = await stores.get(station_id)
    return await store.get(doc_id)
