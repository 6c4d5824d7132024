"""Visitor pre-registration: the station's register gets the visit announced,
and the desk checks the visitor in from it (``beatsync visitor checkin``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.portal.filing import add_filing_routes
from server.portal.forms import N_, Field, Form
from server.portal.records import announced_visitor
from server.portal.tracking import Kind
from sync.database import Doc

__all__ = ["add_visitor_routes"]

VISITOR_FORM = Form(
    [
        Field("station", N_("Police station"), "choice"),
        Field("whom", N_("Whom you will meet"), hint=N_("A name or a post, e.g. the SHO.")),
        Field("when", N_("When you will come"), "datetime", future_only=True),
        Field("purpose", N_("What it is about"), max_length=500),
        Field("name", N_("Your name"), autocomplete="name"),
        Field("phone", N_("Your mobile number"), "phone", max_length=20, autocomplete="tel"),
    ]
)


def _visitor(ref: str, station_id: str, beat_id: str, answers: dict[str, Any]) -> list[Doc]:
    return [announced_visitor(ref, station_id, beat_id, answers)]


def add_visitor_routes(app: web.Application) -> None:
    title = N_("Your visit is announced")
    add_filing_routes(app, "/visit", "visitor", VISITOR_FORM, _visitor, Kind.VISIT, title)
