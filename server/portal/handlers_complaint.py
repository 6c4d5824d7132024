"""Filing a complaint online: the form, and the receipt with its number and PIN."""

from __future__ import annotations

from aiohttp import web

from server.portal.forms import N_, Field, Form, Submission
from server.portal.places import place_choices, resolve_place, station_choices
from server.portal.records import SIGNATURE_DAYS, complaint
from server.portal.services import portal_of, state_of, stores_of
from server.portal.tickets import Ticket, save_ticket
from server.portal.tracking import Kind, hash_pin, new_number, new_pin
from server.portal.writer import new_citizen_ref, write_record
from server.web.pages import render

__all__ = ["COMPLAINT_FORM", "add_complaint_routes"]

CATEGORIES = (
    ("theft", N_("Theft")),
    ("assault", N_("Assault")),
    ("cyber_fraud", N_("Cyber fraud")),
    ("missing_person", N_("Missing person")),
    ("domestic_dispute", N_("Domestic dispute")),
    ("land_dispute", N_("Land dispute")),
    ("other", N_("Something else")),
)
NO_PLACE = N_("Choose your locality, or the police station.")

COMPLAINT_FORM = Form(
    [
        Field("category", N_("What happened"), "choice", choices=CATEGORIES),
        Field("place", N_("Where it happened"), max_length=500),
        Field("time", N_("When it happened"), "datetime", past_only=True),
        Field("description", N_("Describe what happened"), "textarea", max_length=20000),
        Field("photo", N_("Photo (optional)"), "photo", required=False),
        Field(
            "locality",
            N_("Your locality"),
            "choice",
            required=False,
            hint=N_("It decides which police station gets the complaint."),
        ),
        Field("station", N_("Or the police station"), "choice", required=False),
        Field("name", N_("Your name"), autocomplete="name"),
        Field("phone", N_("Your mobile number"), "phone", max_length=20, autocomplete="tel"),
        Field("address", N_("Your address"), "textarea", max_length=1000),
    ]
)


async def _choices(request: web.Request) -> dict[str, list[tuple[str, str]]]:
    state = state_of(request)
    return {"locality": await place_choices(state), "station": await station_choices(state)}


def _page(
    request: web.Request, sub: Submission, choices: dict[str, list[tuple[str, str]]]
) -> web.Response:
    status = 200 if sub.ok else 422
    return render(
        "complaint.html",
        request,
        {"form": COMPLAINT_FORM, "sub": sub, "choices": choices},
        status=status,
    )


async def complaint_form(request: web.Request) -> web.Response:
    return _page(request, COMPLAINT_FORM.blank(), await _choices(request))


async def file_complaint(request: web.Request) -> web.Response:
    portal = portal_of(request)
    portal.count_post(request)
    choices = await _choices(request)
    sub = await COMPLAINT_FORM.read(request, choices)
    place = await resolve_place(
        state_of(request), sub.values.get("locality"), sub.values.get("station")
    )
    if place is None and "locality" not in sub.errors and "station" not in sub.errors:
        sub.errors["locality"] = (NO_PLACE, {})
    if not sub.ok or place is None:
        return _page(request, sub, choices)
    portal.count_phone(sub.values["phone"])
    doc = complaint(new_citizen_ref(), *place, sub.values)
    await write_record(state_of(request), stores_of(request), doc)
    number, pin = new_number(Kind.COMPLAINT), new_pin()
    await save_ticket(
        state_of(request), Ticket(number, doc["station_id"], doc["_id"], await hash_pin(pin))
    )
    return render(
        "receipt.html",
        request,
        {
            "title": N_("Your complaint is filed"),
            "number": number,
            "pin": pin,
            "days": SIGNATURE_DAYS,
            "kind": "complaint",
            "slot": None,
        },
        status=201,
    )


def add_complaint_routes(app: web.Application) -> None:
    app.router.add_get("/complaint", complaint_form, name="complaint")
    app.router.add_post("/complaint", file_complaint)
