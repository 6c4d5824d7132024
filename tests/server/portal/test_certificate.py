"""Certificates: the request assigns a visit to the beat of the address; the SHO
decides once it is made; the issued certificate's QR payload verifies, a
tampered or revoked one does not, old keys keep verifying after a rotation,
and a verification is logged without the holder's name."""

from __future__ import annotations

import html as htmllib
import logging
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from schemas.i18n import translations
from server.gateway.keys import CONFIG, STATE, STORES
from server.portal.district_keys import create_key, revoke_certificate
from server.portal.tickets import find_ticket
from tests.server.conftest import basic
from tests.server.portal.support import open_status, post_form, receipt_of

REQUEST = {
    "kind": "tenant",
    "name": "Meena Kumari",
    "phone": "9123456780",
    "address": "7 Mill Road, Civil Lines",
    "locality": "Civil Lines",
}
VISITED = {
    "status": "visited",
    "visit_time": "2026-01-05T11:00:00+05:30",
    "findings": "Lives here for two years; known to neighbours.",
    "neighbours_statements": [{"name": "Gopal", "statement": "A quiet tenant."}],
    "recommendation": "clear",
    "photos": [],
}
hi = translations("hi").gettext


async def request_certificate(portal: TestClient[Any, Any]) -> tuple[str, str, str]:
    status, page = await post_form(portal, "/portal/certificate", REQUEST)
    assert status == 201, page
    number, pin = receipt_of(page)
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    return number, pin, ticket.doc_id


async def record_visit(portal: TestClient[Any, Any], request_id: str) -> None:
    """The beat officer of the address records the visit (as a device would sync it)."""
    store = await portal.server.app[STORES].get("alpha")
    request = await store.get(request_id)
    [visit_id] = request["verification_visit_ids"]
    visit = await store.get(visit_id)
    visit.update(VISITED, updated_by="bo-two")
    put = await portal.put(f"/station-alpha/{visit_id}", json=visit, headers=basic("bo-two"))
    assert put.status == 201, await put.text()


async def decide(portal: TestClient[Any, Any], request_id: str, decision: str) -> Any:
    return await portal.post(
        f"/_beatsync/portal/certificates/{request_id}/decision",
        params={"station": "alpha"},
        json={"decision": decision},
        headers=basic("so-alpha"),
    )


async def issued_payload(portal: TestClient[Any, Any], number: str, pin: str) -> str:
    status, page = await post_form(
        portal,
        "/portal/certificate/issued",
        {"number": number, "pin": pin},
        form_page="/portal/status",
    )
    assert status == 200, page
    assert "<svg" in page
    found = re.search(r'id="payload">([^<]+)<', page)
    assert found
    return found.group(1)


async def verify(portal: TestClient[Any, Any], payload: str) -> tuple[int, str]:
    status, page = await post_form(portal, "/portal/verify", {"payload": payload})
    return status, htmllib.unescape(page)


async def test_request_visit_decision_certificate(
    portal: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    number, pin, request_id = await request_certificate(portal)
    store = await portal.server.app[STORES].get("alpha")
    request = await store.get(request_id)
    visit = await store.get(request["verification_visit_ids"][0])
    assert request["status"] == "submitted"
    assert (visit["status"], visit["beat_id"]) == ("assigned", "alpha-two")
    assert visit["certificate_request_id"] == request_id
    page = htmllib.unescape((await open_status(portal, number, pin))[1])
    assert "The beat officer will visit the address." in page

    early = await decide(portal, request_id, "issue")
    assert early.status == 409
    assert (await store.get(request_id))["status"] == "submitted"

    await record_visit(portal, request_id)
    page = htmllib.unescape((await open_status(portal, number, pin))[1])
    assert "The beat officer has visited the address." in page
    answer = await decide(portal, request_id, "issue")
    assert answer.status == 200, await answer.text()
    assert (await store.get(request_id))["status"] == "issued"
    page = htmllib.unescape((await open_status(portal, number, pin))[1])
    assert "Issued" in page

    payload = await issued_payload(portal, number, pin)
    with caplog.at_level(logging.INFO, logger="beatsync"):
        status, page = await verify(portal, payload)
    assert status == 200
    assert "Valid: issued by the district police." in page
    assert REQUEST["name"] in page
    logged = "\n".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert request_id in logged
    assert REQUEST["name"] not in logged

    head, body, signature = payload.split(".")
    tampered = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    status, page = await verify(portal, tampered)
    assert status == 422
    assert "Not valid" in page
    assert REQUEST["name"] not in page

    # A rotation leaves it valid; a revocation does not.
    app = portal.server.app
    await create_key(app[STATE], app[CONFIG].data_dir, rotate=True)
    assert (await verify(portal, payload))[0] == 200
    await revoke_certificate(app[STATE], request_id)
    status, page = await verify(portal, payload)
    assert status == 422
    assert "revoked" in page


async def test_a_rejection_and_who_may_decide(portal: TestClient[Any, Any]) -> None:
    _number, _pin, request_id = await request_certificate(portal)
    await record_visit(portal, request_id)
    for officer in ("bo-two", "so-bravo"):
        answer = await portal.post(
            f"/_beatsync/portal/certificates/{request_id}/decision",
            params={"station": "alpha"},
            json={"decision": "issue"},
            headers=basic(officer),
        )
        assert answer.status == 403
    bad = await decide(portal, request_id, "maybe")
    assert bad.status == 400
    answer = await decide(portal, request_id, "reject")
    assert answer.status == 200
    assert (await answer.json())["status"] == "rejected"


async def test_the_keys_a_verifier_needs(portal: TestClient[Any, Any]) -> None:
    keys = await (await portal.get("/portal/keys.json")).json()
    assert len(keys["keys"]) == 1
    assert keys["revoked"] == []
