"""The portal writes through the gateway's one write path (schema, station,
lifecycle, audit), as the citizen it acts for, or as the officer deciding.

The citizen is ``citizen:<ref>`` (a random reference per submission, no
personal data): the audit log names that actor, the lifecycle gives it the
citizen's rights only (create; cancel an appointment). The portal's writes
are unsigned (no device made them) and audited so, whatever the district's
unsigned-writes setting, which governs officers' clients.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.identity import Role
from server.policy.access import DbScope
from server.policy.writes import WriteDeps, raise_for_result, write_docs
from server.state.interface import GatewayState
from server.state.models import Officer, Principal, station_db_name
from server.state.stations import StationDatabases
from sync.errors import NotFound

__all__ = ["citizen_scope", "new_citizen_ref", "write_record", "write_records"]


def new_citizen_ref() -> str:
    return secrets.token_hex(8)


async def citizen_scope(state: GatewayState, station_id: str, actor: str) -> DbScope:
    station = await state.get_station(station_id)
    if station is None:
        raise NotFound(f"no station {station_id}")
    # The least-privileged role; the lifecycle sees the citizen (Author.role).
    citizen = Officer(actor, "citizen", Role.BEAT_OFFICER, station_id, None, password_hash="")
    return DbScope(Principal(citizen), station, station_db_name(station_id))


async def write_records(
    state: GatewayState,
    stores: StationDatabases,
    docs: Sequence[Mapping[str, Any]],
    scope: DbScope | None = None,
) -> list[str]:
    """Store ``docs`` (new, or with their ``_rev``) in one transaction of their
    station; by ``scope``'s caller, else the citizen named in ``updated_by``.
    Their new revs, or the write path's refusal (409 conflict, 403)."""
    station_id = docs[0]["station_id"]
    if scope is None:
        scope = await citizen_scope(state, station_id, docs[0]["updated_by"])
    deps = WriteDeps(identities=state, audit=state, refuse_unsigned=False)
    store = await stores.get(station_id)
    results = await write_docs(scope, store, deps, [dict(d) for d in docs], new_edits=True)
    for result in results:
        raise_for_result(result)
    return [str(result["rev"]) for result in results]


async def write_record(
    state: GatewayState,
    stores: StationDatabases,
    doc: Mapping[str, Any],
    scope: DbScope | None = None,
) -> str:
    [rev] = await write_records(state, stores, [doc], scope)
    return rev
