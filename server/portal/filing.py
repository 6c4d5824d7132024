"""What every filing form shares: the places to choose from, the refused form
shown again, the records written, the tracking number and PIN issued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from server.portal.forms import N_, Form, Submission
from server.portal.places import place_choices, resolve_place, station_choices
from server.portal.services import portal_of, state_of, stores_of
from server.portal.tickets import Ticket, save_ticket
from server.portal.tracking import Kind, hash_pin, new_number, new_pin
from server.portal.writer import new_citizen_ref, write_records
from server.web.pages import render
from sync.database import Doc

__all__ = [
    "NO_PLACE",
    "Build",
    "add_filing_routes",
    "file_records",
    "form_page",
    "issue_ticket",
    "receipt",
]

NO_PLACE = N_("Choose your locality, or the police station.")
# (citizen ref, station, beat, answers) -> the records to write; the first is
# the one the tracking number opens.
Build = Callable[[str, str, str, dict[str, Any]], list[Doc]]


async def _choices(request: web.Request) -> dict[str, list[tuple[str, str]]]:
    state = state_of(request)
    return {"locality": await place_choices(state), "station": await station_choices(state)}


async def form_page(
    request: web.Request, template: str, form: Form, sub: Submission
) -> web.Response:
    """A form with its places to choose from; 422 when it comes back refused."""
    return render(
        template,
        request,
        {"form": form, "sub": sub, "choices": await _choices(request)},
        status=200 if sub.ok else 422,
    )


async def _place_answers(
    request: web.Request, form: Form
) -> tuple[Submission, tuple[str, str] | None]:
    sub = await form.read(request, await _choices(request))
    place = await resolve_place(
        state_of(request), sub.values.get("locality"), sub.values.get("station")
    )
    if place is None and "locality" not in sub.errors and "station" not in sub.errors:
        sub.errors["locality"] = (NO_PLACE, {})
    return sub, place if sub.ok else None


async def issue_ticket(request: web.Request, kind: Kind, doc: Doc) -> tuple[str, str]:
    """A new tracking number and PIN that open ``doc``."""
    number, pin = new_number(kind), new_pin()
    ticket = Ticket(
        number, doc["station_id"], doc["_id"], await hash_pin(pin), str(doc["created_by"])
    )
    await save_ticket(state_of(request), ticket)
    return number, pin


def receipt(request: web.Request, title: str, number: str, pin: str, **shown: Any) -> web.Response:
    context = {"title": title, "number": number, "pin": pin, "kind": "", "slot": None, **shown}
    return render("receipt.html", request, context, status=201)


async def file_records(
    request: web.Request,
    form: Form,
    template: str,
    build: Build,
    ticket_kind: Kind,
    title: str,
    **shown: Any,
) -> web.Response:
    """Check the posted ``form``; write what ``build`` makes of it at the
    station and beat it leads to; show the receipt (or the form, refused)."""
    portal = portal_of(request)
    portal.count_post(request)
    sub, place = await _place_answers(request, form)
    if place is None:
        return await form_page(request, template, form, sub)
    docs = build(new_citizen_ref(), *place, sub.values)
    with portal.phone_turn(sub.values["phone"]):
        await write_records(state_of(request), stores_of(request), docs)
    number, pin = await issue_ticket(request, ticket_kind, docs[0])
    return receipt(request, title, number, pin, **shown)


def add_filing_routes(
    app: web.Application,
    path: str,
    name: str,
    form: Form,
    build: Build,
    ticket_kind: Kind,
    title: str,
    **shown: Any,
) -> None:
    """``GET path``: the blank form (template ``<name>.html``); ``POST path``: file it."""
    template = f"{name}.html"

    async def blank(request: web.Request) -> web.Response:
        return await form_page(request, template, form, form.blank())

    async def post(request: web.Request) -> web.Response:
        return await file_records(request, form, template, build, ticket_kind, title, **shown)

    app.router.add_get(path, blank, name=name)
    app.router.add_post(path, post)
