"""Appointments: whom to meet, a free slot, the booking; cancel and move it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from schemas.i18n import DEFAULT_LANGUAGE, local_moment
from server.portal.booking import announce, book, cancel, slot_text, taken_slots
from server.portal.directory import Schedule, load_schedules
from server.portal.filing import issue_ticket, receipt
from server.portal.forms import N_, Field, Form, Submission
from server.portal.handlers_status import open_ticket
from server.portal.outbox import Message
from server.portal.services import portal_of, state_of, stores_of
from server.portal.slots import open_slots, slot_doc_id, utc_now
from server.portal.tickets import Ticket, save_ticket
from server.portal.tracking import Kind
from server.portal.writer import new_citizen_ref
from server.state import timestamps
from server.web.pages import LANGUAGE, gettext_for, render
from sync.errors import Conflict

__all__ = ["add_appointment_routes"]

WITH_LABELS = {
    "sp": N_("Superintendent of Police (SP)"),
    "sho": N_("Station House Officer (SHO)"),
    "station_officer": N_("Station officer"),
}
SLOT_TAKEN = N_("Someone booked that time a moment ago. Please choose another.")
CONFIRMATION = N_("Your meeting %(number)s is booked for %(slot)s.")
CANCELLED = N_("Your meeting %(number)s on %(slot)s is cancelled.")

BOOKING_FORM = Form(
    [
        Field("slot", N_("Time"), "choice"),
        Field("name", N_("Your name"), autocomplete="name"),
        Field("phone", N_("Your mobile number"), "phone", max_length=20, autocomplete="tel"),
        Field("purpose", N_("What it is about"), max_length=500),
    ]
)


async def _schedule(request: web.Request, officer_id: str) -> Schedule:
    schedule = (await load_schedules(state_of(request))).get(officer_id)
    if schedule is None:
        raise web.HTTPNotFound()
    return schedule


def _offered(schedule: Schedule) -> set[str]:
    """Every future slot the officer's hours offer, free or taken."""
    return {start.isoformat() for start in open_slots(schedule, utc_now())}


async def _free(request: web.Request, schedule: Schedule) -> list[tuple[str, str]]:
    taken = await taken_slots(stores_of(request), schedule)
    return [
        (start.isoformat(), local_moment(start, request.get(LANGUAGE, DEFAULT_LANGUAGE)))
        for start in open_slots(schedule, utc_now())
        if slot_doc_id(schedule.officer_id, start) not in taken
    ]


async def officers(request: web.Request) -> web.Response:
    state = state_of(request)
    rows = []
    for schedule in (await load_schedules(state)).values():
        officer = await state.get_officer(schedule.officer_id)
        station = await state.get_station(schedule.station_id)
        if officer is not None and station is not None and not officer.revoked:
            rows.append({"schedule": schedule, "officer": officer, "station": station})
    return render("officers.html", request, {"rows": rows, "with_labels": WITH_LABELS})


def _slots_page(
    request: web.Request,
    schedule: Schedule,
    free: list[tuple[str, str]],
    sub: Submission,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    return render(
        "slots.html",
        request,
        {
            "schedule": schedule,
            "with_label": WITH_LABELS[schedule.with_],
            "form": BOOKING_FORM,
            "sub": sub,
            "choices": {"slot": free},
            **extra,
        },
        status=status,
    )


async def slots(request: web.Request) -> web.Response:
    schedule = await _schedule(request, request.query.get("officer", ""))
    return _slots_page(request, schedule, await _free(request, schedule), BOOKING_FORM.blank())


def _texts(request: web.Request, number: str, doc: dict[str, Any]) -> dict[str, str]:
    _ = gettext_for(request)
    values = {"number": number, "slot": slot_text(doc)}
    return {
        "confirmation": _(CONFIRMATION) % values,
        "cancelled": _(CANCELLED) % values,
    }


async def book_slot(request: web.Request) -> web.Response:
    portal = portal_of(request)
    portal.count_post(request)
    schedule = await _schedule(request, request.query.get("officer", ""))
    free = await _free(request, schedule)
    sub = await BOOKING_FORM.read(request, {"slot": free})
    if not sub.ok:
        if set(sub.errors) == {"slot"} and sub.raw.get("slot") in _offered(schedule):
            # Offered on the page the citizen saw, booked by someone else since:
            # the same answer as losing the race at the write itself.
            sub.errors["slot"] = (SLOT_TAKEN, {})
            return _slots_page(request, schedule, free, sub, 409)
        return _slots_page(request, schedule, free, sub, 422)
    sub.values["slot"] = next(
        s for s in open_slots(schedule, utc_now()) if s.isoformat() == sub.raw["slot"]
    )
    try:
        with portal.phone_turn(sub.values["phone"]):
            doc = await book(
                state_of(request), stores_of(request), schedule, new_citizen_ref(), sub.values
            )
    except Conflict:
        sub.errors["slot"] = (SLOT_TAKEN, {})
        return _slots_page(request, schedule, await _free(request, schedule), sub, 409)
    number, pin = await issue_ticket(request, Kind.APPOINTMENT, doc)
    await _announce(request, doc, number)
    title = N_("Your meeting is booked")
    return receipt(request, title, number, pin, kind="appointment", slot=slot_text(doc))


async def _own_booking(request: web.Request) -> tuple[Ticket, dict[str, Any]]:
    portal_of(request).count_post(request)
    opened = await open_ticket(request)
    if opened is None or opened[1].get("type") != "appointment":
        raise web.HTTPForbidden()
    ticket, doc = opened
    if ticket.actor and doc.get("created_by") != ticket.actor:
        raise web.HTTPConflict()  # the office gave the slot to another booking
    return opened


async def cancel_booking(request: web.Request) -> web.Response:
    ticket, doc = await _own_booking(request)
    if doc.get("status") not in ("requested", "confirmed"):
        raise web.HTTPConflict()
    cancelled = await cancel(state_of(request), stores_of(request), doc)
    # The number now opens the cancelled booking; the slot is free for others.
    await save_ticket(state_of(request), replace(ticket, doc_id=cancelled["_id"]))
    outbox = portal_of(request).outbox(request)
    await outbox.withdraw(ticket.number)
    await outbox.add(
        _message(
            "cancellation", doc, ticket.number, _texts(request, ticket.number, doc)["cancelled"]
        )
    )
    return render(
        "done.html",
        request,
        {"title": N_("Your meeting is cancelled"), "number": ticket.number, "slot": None},
    )


async def move_booking(request: web.Request) -> web.Response:
    ticket, doc = await _own_booking(request)
    if doc.get("status") not in ("requested", "confirmed"):
        raise web.HTTPConflict()
    schedule = await _schedule(request, doc["officer_id"])
    free = await _free(request, schedule)
    form = await request.post()
    wanted = str(form.get("slot", ""))
    keep = {"number": ticket.number, "pin": str(form.get("pin", ""))}
    sub = Submission(raw={"slot": wanted})
    starts = {s.isoformat(): s for s in open_slots(schedule, utc_now())}
    if wanted not in {value for value, _ in free}:
        if wanted:
            sub.errors["slot"] = (SLOT_TAKEN, {})
        return render(
            "move.html",
            request,
            {"free": free, "sub": sub, "keep": keep},
            status=422 if wanted else 200,
        )
    ref = doc["created_by"].partition(":")[2]
    answers = {**doc["citizen"], "purpose": doc["purpose"], "slot": starts[wanted]}
    try:
        moved = await book(state_of(request), stores_of(request), schedule, ref, answers)
    except Conflict:
        sub.errors["slot"] = (SLOT_TAKEN, {})
        free = await _free(request, schedule)
        return render("move.html", request, {"free": free, "sub": sub, "keep": keep}, status=409)
    await cancel(state_of(request), stores_of(request), doc)  # frees the old slot
    await save_ticket(state_of(request), replace(ticket, doc_id=moved["_id"]))
    outbox = portal_of(request).outbox(request)
    await outbox.withdraw(ticket.number)
    await _announce(request, moved, ticket.number)
    return render(
        "done.html",
        request,
        {"title": N_("Your meeting is moved"), "number": ticket.number, "slot": slot_text(moved)},
    )


async def _announce(request: web.Request, doc: dict[str, Any], number: str) -> None:
    confirmation = _texts(request, number, doc)["confirmation"]
    outbox = portal_of(request).outbox(request)
    lang = request.get(LANGUAGE, DEFAULT_LANGUAGE)
    await announce(state_of(request), outbox, doc, number, lang, confirmation)


def _message(kind: str, doc: dict[str, Any], number: str, text: str) -> Message:
    return Message(kind, doc["citizen"]["phone"], number, text, timestamps.utc_now())


def add_appointment_routes(app: web.Application) -> None:
    app.router.add_get("/appointment", officers, name="appointment")
    app.router.add_get("/appointment/slots", slots, name="slots")
    app.router.add_post("/appointment/slots", book_slot)
    app.router.add_post("/booking/cancel", cancel_booking, name="cancel")
    app.router.add_post("/booking/move", move_booking, name="move")
