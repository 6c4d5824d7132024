"""The portal's JSON API for the station and the office, under ``/_beatsync/portal/``.

It sits beside the gateway's own ``/_beatsync`` endpoints, not inside the
citizens' face: officers call it with their credentials, its errors are the
gateway's ``{"error", "reason"}`` JSON, and there is no form, so no CSRF.
A station officer reads their own station; the central office every one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from schemas.identity import Role
from server.gateway.keys import CONFIG, PRINCIPAL, STATE, STORES
from server.policy.access import DbScope, resolve_scope
from server.portal.certificates import decide
from server.portal.records import (
    EFILED_PREFIX,
    LISTED_DAYS,
    awaits_signature,
    efiled_key,
    signature_deadline,
)
from server.state.models import station_db_name
from sync.errors import BadRequest, Forbidden

__all__ = ["create_portal_api"]

_SUPERVISORS = (Role.STATION_OFFICER, Role.CENTRAL_OFFICE)


async def supervisor_scope(request: web.Request, station_id: str) -> DbScope:
    if not station_id:
        raise BadRequest("station is required, e.g. ?station=kotwali")
    scope = await resolve_scope(
        request.get(PRINCIPAL), station_db_name(station_id), request.config_dict[STATE]
    )
    if scope.principal.role not in _SUPERVISORS:
        raise Forbidden("Only a station officer or the central office may do this.")
    return scope


async def awaiting_signature(request: web.Request) -> web.Response:
    """Complaints filed online in the last ``LISTED_DAYS`` and not yet signed
    at the station, oldest first, with each one's deadline (the station calls
    the complainant before it)."""
    scope = await supervisor_scope(request, request.query.get("station", ""))
    store = await request.config_dict[STORES].get(scope.station.id)
    now = datetime.now(UTC)
    since = efiled_key(now - timedelta(days=LISTED_DAYS))
    # A range of the id index: the e-complaints of the last LISTED_DAYS only.
    rows = (
        await store.all_docs(startkey=since, endkey=EFILED_PREFIX + "\ufff0", include_docs=True)
    )["rows"]
    found = []
    for row in rows:
        doc = row.get("doc") or {}
        if awaits_signature(doc) and doc.get("status") == "registered":
            deadline = signature_deadline(doc)
            found.append(
                {
                    "id": doc["_id"],
                    "beat_id": doc["beat_id"],
                    "category": doc["category"],
                    "created_at": doc["created_at"],
                    "deadline": deadline.isoformat(),
                    "lapsed": deadline <= now,
                }
            )
    found.sort(key=lambda item: item["created_at"])
    return web.json_response({"station": scope.station.id, "complaints": found})


async def decide_certificate(request: web.Request) -> web.Response:
    """``{"decision": "issue"|"reject"}`` on a certificate request of
    ``?station=``, once its verification visit is made (409 before)."""
    scope = await supervisor_scope(request, request.query.get("station", ""))
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest('the body must be JSON: {"decision": "issue"}') from None
    decision = body.get("decision") if isinstance(body, dict) else None
    decided = await decide(
        request.config_dict[STATE],
        request.config_dict[STORES],
        scope,
        request.match_info["request_id"],
        str(decision),
        request.config_dict[CONFIG].data_dir,
    )
    return web.json_response(
        {"ok": True, "id": decided["_id"], "rev": decided["_rev"], "status": decided["status"]}
    )


def create_portal_api() -> web.Application:
    api = web.Application()
    api.router.add_get("/awaiting-signature", awaiting_signature)
    api.router.add_post("/certificates/{request_id}/decision", decide_certificate)
    return api
