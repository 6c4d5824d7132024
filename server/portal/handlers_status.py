"""The status page: a tracking number and its PIN, by POST only (neither ever
in a URL), and nothing at all without the right PIN."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from schemas.web.labels import COMPLAINT_STATUS_LABELS
from server.portal.certificates import visits_of
from server.portal.directory import station_address
from server.portal.forms import N_
from server.portal.records import FILED_ONLINE, awaits_signature, signature_deadline
from server.portal.services import portal_of, state_of, stores_of
from server.portal.slots import local_time
from server.portal.tickets import Ticket, find_ticket
from server.portal.tracking import normalize, verify_pin
from server.state.interface import GatewayState
from server.web.pages import render
from sync.database import Database, Doc
from sync.errors import NotFound

__all__ = ["STATUS_LABELS", "add_status_routes", "open_ticket"]

WRONG = N_("That number and PIN do not match. Check both and try again.")
# The status page's own word for a booking the office gave to another citizen.
GIVEN_AWAY = "given_away"
STATUS_LABELS = {
    **COMPLAINT_STATUS_LABELS,
    "requested": N_("Booked"),
    "confirmed": N_("Confirmed"),
    "cancelled": N_("Cancelled"),
    "completed": N_("Completed"),
    "submitted": N_("Received"),
    "verification_pending": N_("Verification visit pending"),
    "verified": N_("Verified, awaiting the SHO's decision"),
    "rejected": N_("Rejected"),
    "issued": N_("Issued"),
    GIVEN_AWAY: N_("The office gave this time to another booking. Please book another time."),
}
VISIT_LABELS = {
    "assigned": N_("The beat officer will visit the address."),
    "visited": N_("The beat officer has visited the address."),
}
ACTION_LABELS = {FILED_ONLINE: N_("Filed online"), "signed_at_station": N_("Signed at the station")}


def _status_label(doc: Doc) -> str:
    if doc.get("type") == "visitor_entry":
        return N_("Checked in") if "time_in" in doc else N_("Expected")
    return STATUS_LABELS.get(doc.get("status", ""), "")


async def open_ticket(request: web.Request) -> tuple[Ticket, Doc] | None:
    """The ticket and record the posted number and PIN open, or ``None``
    (a wrong PIN counts against the number: 429 after a few)."""
    form = await request.post()
    number = normalize(str(form.get("number", "")))
    pin = str(form.get("pin", ""))
    if number is None:
        return None
    portal = portal_of(request)
    portal.by_number.check(number)
    ticket = await find_ticket(state_of(request), number)
    if not await verify_pin(pin, ticket.pin_hash if ticket else None) or ticket is None:
        portal.by_number.count(number)
        return None
    store = await stores_of(request).get(ticket.station_id)
    try:
        doc = await store.get(ticket.doc_id, conflicts=True)
    except NotFound:
        return None
    if ticket.actor and doc.get("created_by") != ticket.actor:
        doc = await _own_leaf(store, doc, ticket.actor) or _given_away(doc)
    return ticket, doc


async def _own_leaf(store: Database, winner: Doc, actor: str) -> Doc | None:
    """Of a record in conflict, the leaf ``actor`` made (with the others as its
    ``_conflicts``): a double booking's winner may be someone else's booking,
    which this citizen may neither read nor cancel."""
    if not winner.get("_conflicts"):
        return None
    for answer in await store.open_revs(
        winner["_id"], winner["_conflicts"], include_revisions=False
    ):
        leaf = answer.get("ok")
        if isinstance(leaf, dict) and not leaf.get("_deleted") and leaf.get("created_by") == actor:
            others = [winner["_rev"], *(r for r in winner["_conflicts"] if r != leaf["_rev"])]
            return {**leaf, "_conflicts": others}
    return None


def _given_away(winner: Doc) -> Doc:
    """No live leaf is the citizen's: the office kept the other booking of the
    slot. Of that booking only what the citizen's own shared: the slot."""
    kept = ("_id", "_rev", "type", "station_id", "slot")
    return {**{k: winner[k] for k in kept if k in winner}, "status": GIVEN_AWAY}


def _remaining(deadline: datetime, now: datetime) -> dict[str, int]:
    seconds = max(0, int((deadline - now).total_seconds()))
    return {"days": seconds // 86400, "hours": seconds % 86400 // 3600}


async def _station(state: GatewayState, station_id: str) -> dict[str, Any]:
    station = await state.get_station(station_id)
    return {
        "name": station.name if station else station_id,
        "address": await station_address(state, station_id),
    }


async def status_form(request: web.Request) -> web.Response:
    return render("status_form.html", request, {"error": None, "number": ""})


async def show_status(request: web.Request) -> web.Response:
    portal_of(request).count_post(request)
    opened = await open_ticket(request)
    if opened is None:
        form = await request.post()
        return render(
            "status_form.html",
            request,
            {"error": WRONG, "number": str(form.get("number", ""))[:20]},
            status=403,
        )
    ticket, doc = opened
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "ticket": ticket,
        "doc": doc,
        "pin": str((await request.post()).get("pin", "")),
        "status_label": _status_label(doc),
        "actions": [
            {
                **entry,
                "label": ACTION_LABELS.get(entry.get("action", "")),
                "when": local_time(entry.get("at", "")),
            }
            for entry in doc.get("action_log", [])
        ],
        "station": await _station(state_of(request), ticket.station_id),
        "in_conflict": bool(doc.get("_conflicts")),
        "awaits_signature": awaits_signature(doc),
        "visits": [],
        "when": local_time(doc.get("slot") or doc.get("expected_at") or ""),
    }
    if doc.get("type") == "certificate_request":
        context["visits"] = [
            VISIT_LABELS.get(visit.get("status", "visited"), VISIT_LABELS["visited"])
            for visit in await visits_of(stores_of(request), doc)
        ]
    if context["awaits_signature"]:
        deadline = signature_deadline(doc)
        context["deadline"] = deadline
        context["remaining"] = _remaining(deadline, now)
        context["lapsed"] = deadline <= now
    return render("status.html", request, context)


def add_status_routes(app: web.Application) -> None:
    app.router.add_get("/status", status_form, name="status")
    app.router.add_post("/status", show_status)
