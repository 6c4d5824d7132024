"""Certificates: the request, the printable certificate with its QR, and
``/verify`` (a plain form post; in the browser, WebCrypto checks it offline)."""

from __future__ import annotations

import json
import logging

import segno
from aiohttp import web
from markupsafe import Markup

from schemas.certificates import check_certificate
from schemas.web.labels import KIND_LABELS
from server.portal.certificates import certificate_of, request_records
from server.portal.district_keys import public_keys, published_keys, revoked_certificates
from server.portal.filing import add_filing_routes
from server.portal.forms import N_, Field, Form
from server.portal.handlers_status import open_ticket
from server.portal.services import portal_of, state_of
from server.portal.tracking import Kind
from server.web.pages import render

__all__ = ["KINDS", "add_certificate_routes"]

logger = logging.getLogger("beatsync.portal")

KINDS = tuple(KIND_LABELS.items())
VERDICTS = {
    "valid": N_("Valid: issued by the district police."),
    "expired": N_("Not valid: this certificate has expired."),
    "revoked by the district": N_("Not valid: the district police revoked this certificate."),
}
NOT_GENUINE = N_("Not valid: this is not a certificate signed by the district police.")

CERTIFICATE_FORM = Form(
    [
        Field("kind", N_("Which certificate"), "choice", choices=KINDS),
        Field("name", N_("Name of the person to verify"), autocomplete="name"),
        Field("phone", N_("Your mobile number"), "phone", max_length=20, autocomplete="tel"),
        Field("address", N_("Address to verify"), "textarea", max_length=1000),
        Field(
            "locality",
            N_("Locality of that address"),
            "choice",
            required=False,
            hint=N_("The beat officer of that locality visits the address."),
        ),
        Field("station", N_("Or the police station"), "choice", required=False),
    ]
)


def _qr(payload: str, request: web.Request) -> Markup:
    link = request.url.with_path(request.app.router["verify"].url_for().path).with_query(None)
    # The payload rides in the fragment: a phone that scans it opens the
    # verify page, which checks it without sending it anywhere.
    qr = segno.make(f"{link}#{payload}", error="m")
    return Markup(qr.svg_inline(scale=3, title="QR"))  # segno's own markup: no input of ours


async def show_certificate(request: web.Request) -> web.Response:
    portal_of(request).count_post(request)
    opened = await open_ticket(request)
    if opened is None or opened[1].get("type") != "certificate_request":
        raise web.HTTPForbidden()
    ticket, doc = opened
    payload = await certificate_of(state_of(request), doc["_id"])
    if doc.get("status") != "issued" or payload is None:
        raise web.HTTPNotFound()
    checked = check_certificate(payload, await public_keys(state_of(request)))
    station = await state_of(request).get_station(doc["station_id"])
    return render(
        "certificate_issued.html",
        request,
        {
            "doc": doc,
            "fields": checked.fields,
            "kind_label": dict(KINDS)[doc["kind"]],
            "station_name": station.name if station else doc["station_id"],
            "payload": payload,
            "qr": _qr(payload, request),
            "ticket": ticket,
        },
    )


async def _verify_context(request: web.Request) -> dict[str, object]:
    state = state_of(request)
    keys = {k.kid: k.public for k in await published_keys(state)}
    revoked = sorted(await revoked_certificates(state))
    return {
        "keys_json": json.dumps(keys),
        "revoked_json": json.dumps(revoked),
        "verdicts": VERDICTS,
        "not_genuine": NOT_GENUINE,
    }


async def verify_form(request: web.Request) -> web.Response:
    return render(
        "verify.html", request, {**await _verify_context(request), "result": None, "payload": ""}
    )


async def verify(request: web.Request) -> web.Response:
    portal_of(request).count_post(request)
    payload = str((await request.post()).get("payload", ""))[:2000]
    if "#" in payload:  # the whole scanned link pasted
        payload = payload.rsplit("#", 1)[1]
    state = state_of(request)
    checked = check_certificate(
        payload, await public_keys(state), await revoked_certificates(state)
    )
    # The certificate's id and the outcome only: never the holder's name.
    logger.info(
        "certificate verified",
        extra={
            "fields": {
                "certificate": checked.fields.get("id"),
                "outcome": checked.reason,
                "where": "online",
            }
        },
    )
    result = {
        "ok": checked.ok,
        "message": VERDICTS.get(checked.reason, NOT_GENUINE),
        "fields": checked.fields if checked.reason in VERDICTS else {},
        "kind_label": dict(KINDS).get(str(checked.fields.get("kind")), ""),
    }
    context = await _verify_context(request)
    return render(
        "verify.html",
        request,
        {**context, "result": result, "payload": payload},
        status=200 if checked.ok else 422,
    )


async def keys_json(request: web.Request) -> web.Response:
    """What a verifier needs offline: every public key ever published, and
    the revoked certificates (an officer's device caches it)."""
    state = state_of(request)
    keys = {k.kid: k.public for k in await published_keys(state)}
    return web.json_response({"keys": keys, "revoked": sorted(await revoked_certificates(state))})


def add_certificate_routes(app: web.Application) -> None:
    title = N_("Your request is received")
    add_filing_routes(
        app,
        "/certificate",
        "certificate",
        CERTIFICATE_FORM,
        request_records,
        Kind.CERTIFICATE,
        title,
    )
    app.router.add_post("/certificate/issued", show_certificate, name="issued")
    app.router.add_get("/verify", verify_form, name="verify")
    app.router.add_post("/verify", verify)
    app.router.add_get("/keys.json", keys_json, name="keys")
