"""Filing a complaint online: the form, and the receipt with its number and PIN."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from schemas.web.labels import CATEGORY_LABELS
from server.portal.filing import add_filing_routes
from server.portal.forms import N_, Field, Form
from server.portal.records import SIGNATURE_DAYS, complaint
from server.portal.tracking import Kind
from sync.database import Doc

__all__ = ["COMPLAINT_FORM", "add_complaint_routes"]

CATEGORIES = tuple(CATEGORY_LABELS.items())

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


def _complaint(ref: str, station_id: str, beat_id: str, answers: dict[str, Any]) -> list[Doc]:
    return [complaint(ref, station_id, beat_id, answers)]


def add_complaint_routes(app: web.Application) -> None:
    add_filing_routes(
        app,
        "/complaint",
        "complaint",
        COMPLAINT_FORM,
        _complaint,
        Kind.COMPLAINT,
        N_("Your complaint is filed"),
        kind="complaint",
        days=SIGNATURE_DAYS,
    )
