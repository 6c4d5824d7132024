"""Certificates: a request and the verification visit it assigns to the beat
of the address; the SHO's decision once the visit is made; the signed payload
of an issued certificate.

The decision is an ordinary audited revision by the deciding officer (the
office app calls :func:`decide` through ``/_beatsync/portal/``). The payload
is kept in the gateway's settings beside the ticket, so the printable page
and its QR are the same every time they are shown.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from schemas.certificates import sign_certificate
from server.policy.access import DbScope
from server.portal.district_keys import signing_key
from server.portal.records import envelope
from server.portal.writer import write_record
from server.state.interface import GatewayState, Settings
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync.database import Doc
from sync.errors import BadRequest, Conflict, NotFound

__all__ = ["VALID_DAYS", "certificate_of", "decide", "request_records", "visits_of"]

# A police verification certificate is accepted for a year by most employers
# and landlords; a new one takes a new visit.
VALID_DAYS = 365
DECISIONS = {"issue": "issued", "reject": "rejected"}
_PAYLOAD = "portal.certificate."


def request_records(ref: str, station_id: str, beat_id: str, answers: dict[str, Any]) -> list[Doc]:
    """The ``certificate_request`` and the ``verification_visit`` assigned to the beat."""
    request = envelope("certificate_request", ref, station_id, beat_id)
    visit = envelope("verification_visit", ref, station_id, beat_id)
    applicant = {k: answers[k] for k in ("name", "phone", "address")}
    request.update(
        kind=answers["kind"],
        applicant=applicant,
        status="submitted",
        verification_visit_ids=[visit["_id"]],
    )
    visit.update(
        status="assigned",
        kind=answers["kind"],
        subject={"name": answers["name"], "phone": answers["phone"]},
        address=answers["address"],
        certificate_request_id=request["_id"],
    )
    return [request, visit]


async def visits_of(stores: StationDatabases, request: Doc) -> list[Doc]:
    """The request's verification visits as the station has them now."""
    store = await stores.get(request["station_id"])
    rows = await store.all_docs(keys=request["verification_visit_ids"], include_docs=True)
    return [row["doc"] for row in rows["rows"] if row.get("doc")]


async def decide(
    state: GatewayState,
    stores: StationDatabases,
    scope: DbScope,
    request_id: str,
    decision: str,
    data_dir: Path,
) -> Doc:
    """Issue or reject request ``request_id`` as ``scope``'s officer (the write
    path checks the role); only once its verification visit is made."""
    if decision not in DECISIONS:
        raise BadRequest("decision must be issue or reject")
    store = await stores.get(scope.station.id)
    try:
        request = await store.get(request_id)
    except NotFound:
        raise NotFound("no such certificate request at this station") from None
    if request.get("type") != "certificate_request":
        raise NotFound("no such certificate request at this station")
    visits = await visits_of(stores, request)
    if not visits or any(v.get("status") == "assigned" for v in visits):
        raise Conflict("The verification visit is not made yet.")
    officer = scope.principal.officer.id
    decided = {
        **request,
        "status": DECISIONS[decision],
        "updated_by": officer,
        "updated_at": utc_now(),
    }
    if decision == "issue":
        # Signed before the write: a missing key refuses the decision whole.
        payload = await _sign(state, data_dir, decided)
    decided["_rev"] = await write_record(state, stores, decided, scope)
    if decision == "issue":
        await state.set_setting(_PAYLOAD + request_id, payload)
    return decided


async def _sign(state: GatewayState, data_dir: Path, request: Doc) -> str:
    kid, key = await signing_key(state, data_dir)
    issued = date.today()
    fields = {
        "id": request["_id"],
        "kind": request["kind"],
        "name": request["applicant"]["name"],
        "issued": issued.isoformat(),
        "station": request["station_id"],
        "expires": (issued + timedelta(days=VALID_DAYS)).isoformat(),
        "kid": kid,
    }
    return sign_certificate(fields, key)


async def certificate_of(settings: Settings, request_id: str) -> str | None:
    """The signed payload of an issued certificate."""
    return await settings.get_setting(_PAYLOAD + request_id)
