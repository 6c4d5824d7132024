"""End to end in Debian's Chromium at 360 px, JavaScript off (the portal must
work without it), on both backends: a citizen files in Hindi, the beat
officer's encrypted replica pulls the record, works on it offline, syncs, and
the citizen's status page shows what was done. The same for a certificate,
whose QR payload then verifies in the browser (WebCrypto, JavaScript on) and
on the officer's device (``beatsync verify``), and a tampered one does not."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from field_client.cli import cli
from field_client.replica import FieldReplica
from schemas.i18n import translations
from server.config import GatewayConfig
from server.portal.services import Limits
from tests.browser import OpenBrowser, fits_phone, screenshot
from tests.field_client.support import PASSPHRASE
from tests.server.conftest import PASSWORD, basic
from tests.server.portal.conftest import portal_site

hi = translations("hi").gettext
NOW = "2026-01-04T10:00:00Z"


async def serve(aiohttp_server: Any, config: GatewayConfig) -> TestServer:
    limits = Limits(per_address=1000, per_phone=1000)
    server: TestServer = await aiohttp_server(portal_site(config, limits), host="127.0.0.1")
    return server


async def officer_device(server: TestServer, home: Path) -> FieldReplica:
    """Beat officer bo-two's tablet (beat alpha-two: the locality Civil Lines)."""
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id="bo-two", station_id="unassigned", beat_id="unassigned"
    )
    await replica.enrol(str(server.make_url("")).rstrip("/"), password=PASSWORD, device_name="t1")
    return replica


async def send(page: Any, **answers: str) -> None:
    """Answer the form's fields as a citizen does (choosing in lists) and send it."""
    for name, value in answers.items():
        field = page.locator(f"#f-{name}")
        if await field.evaluate("element => element.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await page.click("button[type=submit]")


async def receipt(page: Any) -> tuple[str, str]:
    return (await page.inner_text("#number")).strip(), (await page.inner_text("#pin")).strip()


async def open_status(page: Any, server: TestServer, number: str, pin: str) -> None:
    await page.goto(str(server.make_url("/portal/status")))
    await page.fill("#f-number", number.replace("-", " ").lower())  # as typed on a phone
    await page.fill("#f-pin", pin)
    await page.click("button[type=submit]")


@pytest.fixture
async def citizen(
    aiohttp_server: Any, config_on_both: GatewayConfig, open_browser: OpenBrowser
) -> tuple[TestServer, Any]:
    """The site on loopback, and a Hindi phone's browser with JavaScript off."""
    server = await serve(aiohttp_server, config_on_both)
    page = await (await open_browser(javascript=False, locale="hi-IN")).new_page()
    return server, page


async def test_a_complaint_in_hindi_reaches_the_officer_and_comes_back(
    citizen: tuple[TestServer, Any], tmp_path: Path, backend: str
) -> None:
    server, page = citizen
    await page.goto(str(server.make_url("/portal/complaint")))
    assert await page.get_attribute("html", "lang") == "hi"
    assert await fits_phone(page)
    for field in (
        "category",
        "place",
        "time",
        "description",
        "photo",
        "locality",
        "name",
        "phone",
        "address",
    ):
        assert await page.locator(f"label[for=f-{field}]").count() == 1
    await send(
        page,
        category="theft",
        place="पानी की टंकी के पास, सिविल लाइंस",
        time="2026-01-02T21:15",
        description="दुकान के बाहर से मेरी साइकिल चोरी हो गई।",
        locality="Civil Lines",
        name="सुनीता देवी",
        phone="98765 43210",
        address="12 नहर रोड, सिविल लाइंस",
    )
    await screenshot(page, f"portal-complaint-receipt-{backend}")
    assert hi("Your complaint is filed") in await page.inner_text("h1")
    number, pin = await receipt(page)

    replica = await officer_device(server, tmp_path / "device")
    try:
        await replica.sync()
        [pulled] = await replica.list_records("complaint")
        assert pulled["complainant"]["name"] == "सुनीता देवी"
        # Offline: the officer takes the case and notes what was done.
        worked = {
            **pulled,
            "status": "assigned",
            "assigned_officer": "bo-two",
            "updated_by": "bo-two",
            "updated_at": NOW,
            "action_log": [
                *pulled["action_log"],
                {
                    "at": NOW,
                    "by": "bo-two",
                    "action": "Statement taken at the shop",
                    "note": "CCTV footage requested from the shopkeeper",
                },
            ],
        }
        await replica.save_record(worked)
        assert (await replica.sync()).refused == ()
    finally:
        await replica.close()

    await open_status(page, server, number, pin)
    await screenshot(page, f"portal-complaint-status-{backend}")
    assert await fits_phone(page)
    text = await page.inner_text("main")
    assert hi("Assigned to an officer") in text
    assert "Statement taken at the shop" in text
    assert "CCTV footage requested" in text


async def test_a_certificate_from_request_to_a_verified_qr(
    citizen: tuple[TestServer, Any], open_browser: OpenBrowser, tmp_path: Path, backend: str
) -> None:
    server, page = citizen
    await page.goto(str(server.make_url("/portal/certificate")))
    await send(
        page,
        kind="tenant",
        name="मीना कुमारी",
        phone="9123456780",
        address="7 मिल रोड, सिविल लाइंस",
        locality="Civil Lines",
    )
    number, pin = await receipt(page)

    home = tmp_path / "device"
    replica = await officer_device(server, home)
    try:
        await replica.sync()
        [visit] = await replica.list_records("verification_visit")
        assert visit["status"] == "assigned"
        await replica.save_record(
            {
                **visit,
                "status": "visited",
                "updated_by": "bo-two",
                "updated_at": NOW,
                "visit_time": "2026-01-04T11:00:00+05:30",
                "findings": "किरायेदार दो साल से यहाँ रहती हैं।",
                "neighbours_statements": [{"name": "गोपाल", "statement": "शांत किरायेदार।"}],
                "recommendation": "clear",
                "photos": [],
            },
            photos={"door.jpg": ("image/jpeg", b"\xff\xd8\xff door photo")},
        )
        assert (await replica.sync()).refused == ()
    finally:
        await replica.close()

    async with ClientSession() as office:
        answer = await office.post(
            server.make_url(
                f"/_beatsync/portal/certificates/{visit['certificate_request_id']}/decision"
            ),
            params={"station": "alpha"},
            json={"decision": "issue"},
            headers=basic("so-alpha"),
        )
        assert answer.status == 200, await answer.text()

    await open_status(page, server, number, pin)
    assert hi("Issued") in await page.inner_text("#status")
    await page.click("text=" + hi("Show the certificate"))
    await screenshot(page, f"portal-certificate-{backend}")
    assert await page.locator("figure.qr svg").count() == 1
    assert await fits_phone(page)
    payload = (await page.inner_text("#payload")).strip()
    # Printed (the citizen's PDF is the browser's Save as PDF): the
    # certificate alone, its QR at a size a phone camera reads off paper.
    await page.emulate_media(media="print")
    assert await page.locator("nav.menu").is_hidden()
    assert await page.locator(".print-hint").is_hidden()
    assert await page.locator("article.certificate").is_visible()
    qr_px = (await page.locator("figure.qr svg").bounding_box() or {}).get("width", 0)
    assert qr_px >= 150  # 45 mm at 96 px per inch is 170 px
    assert (await page.pdf()).startswith(b"%PDF")
    await screenshot(page, f"portal-certificate-print-{backend}")
    await page.emulate_media(media="screen")

    # Offline in the browser: the verify page checks the scanned link itself.
    checker = await (await open_browser(javascript=True, locale="en-IN")).new_page()
    await checker.goto(str(server.make_url("/portal/verify")) + "#" + payload)
    await checker.wait_for_selector("#offline:not([hidden])")
    await screenshot(checker, f"portal-verify-offline-{backend}")
    assert "Valid: issued by the district police." in await checker.inner_text("#offline")
    head, body, signature = payload.split(".")
    forged = ".".join([head, body, signature[:-3] + ("AAA" if signature[-3:] != "AAA" else "BBB")])
    await checker.goto(str(server.make_url("/portal/verify")) + "#" + forged)
    await checker.wait_for_function(
        "document.getElementById('offline').textContent.includes('Not valid')"
    )

    # And on the officer's device, offline once the keys are fetched.
    def device_verify(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), "verify", *args])

    good = await asyncio.to_thread(device_verify, "--refresh", payload)
    assert good.exit_code == 0, good.output
    assert "VALID" in good.output
    assert "मीना कुमारी" in good.output
    bad = await asyncio.to_thread(device_verify, forged)
    assert bad.exit_code == 1
    assert "NOT VALID" in bad.output
    log = (home / "verifications.log").read_text()
    assert visit["certificate_request_id"] in log
    assert "मीना" not in log
    assert re.search(r'"outcome": "the signature does not match', log)
