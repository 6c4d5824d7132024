"""The officer's app in a real Chromium (JavaScript off, 360 px, Hindi): a
complaint recorded with the gateway stopped, its bad phone fixed beside the
field, lock and unlock, the gateway started, sync, the record at the centre;
and an assigned verification visit recorded with a photo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from field_client.replica import FieldReplica
from schemas.i18n import translations
from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import STORES
from tests.browser import OpenBrowser, fits_phone, screenshot
from tests.field_client.support import complaint, visitor
from tests.field_client.test_gateway import PASSWORD, _provision
from tests.field_client.ui.support import PASSPHRASE, SECRET, make_ui, new_device
from tests.field_client.ui.test_pages import JPEG, assigned_visit

pytestmark = pytest.mark.browser
hi = translations("hi").gettext
Serve = Callable[..., Awaitable[TestServer]]


async def _enrolled_device(home: Path, url: str) -> None:
    replica = await FieldReplica.create(
        home,
        PASSPHRASE,
        officer_id="si.sharma",
        station_id="unassigned",
        beat_id="unassigned",
        scrypt_n=2**12,
    )
    try:
        await replica.enrol(url, password=PASSWORD, device_name="tablet 7")
    finally:
        await replica.close()


async def _new_replica(home: Path) -> FieldReplica:
    """A new device's replica, opened to put records on it before the app starts."""
    await new_device(home)
    return await FieldReplica.open(home, PASSPHRASE)


async def _unlock(page: Any) -> None:
    await page.fill("#f-passphrase", PASSPHRASE)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#lock")


async def test_a_complaint_recorded_offline_in_hindi_reaches_the_centre(
    tmp_path: Path, data_dir: Path, aiohttp_server: Serve, open_browser: OpenBrowser
) -> None:
    await _provision(data_dir)
    config = GatewayConfig(data_dir=data_dir)
    first = await aiohttp_server(create_app(config), host="127.0.0.1")
    port = first.port
    home = tmp_path / "device"
    await _enrolled_device(home, str(first.make_url("")).rstrip("/"))
    await first.close()  # from here the officer has no signal

    async for ui in make_ui(home):
        browser = await open_browser(javascript=False, locale="hi-IN")
        page = await browser.new_page()
        await page.goto(f"{ui.base}/?key={SECRET}")
        assert await page.inner_text("h1") == hi("Unlock")
        await screenshot(page, "ui-unlock-hi")
        await _unlock(page)
        await screenshot(page, "ui-home-hi")
        assert await fits_phone(page)

        await page.goto(f"{ui.base}/records/complaint/new")
        await page.fill("#f-name", "राम कुमार सिंह")
        await page.fill("#f-phone", "98765")
        await page.fill("#f-address", "मकान नं. 14, कंकड़बाग, पटना")
        await page.select_option("#f-category", "theft")
        await page.fill("#f-description", "मीठापुर बस स्टैंड पर मोबाइल फ़ोन छीना गया।")
        await page.fill("#f-place", "मीठापुर बस स्टैंड")
        await page.click("#save")
        error = await page.inner_text("#f-phone-error")
        assert error == hi("Give a 10-digit mobile number, like 9876543210.")
        assert await page.get_attribute("#f-phone", "aria-invalid") == "true"
        assert await page.input_value("#f-place") == "मीठापुर बस स्टैंड"  # nothing lost
        await screenshot(page, "ui-complaint-bad-phone-hi")
        assert await fits_phone(page)
        await page.fill("#f-phone", "9876543210")
        await page.click("#save")
        await page.wait_for_selector("#notice")
        record_url = page.url
        record_id = record_url.rsplit("/", 1)[1].split("?")[0]
        await screenshot(page, "ui-complaint-saved-hi")

        await page.click("#lock")
        await page.wait_for_selector("#f-passphrase")
        assert not ui.session.unlocked
        await page.goto(record_url)  # a locked app shows nothing but its unlock page
        assert await page.inner_text("h1") == hi("Unlock")
        await _unlock(page)

        await page.click("#sync-now")
        outcome = page.locator("#sync-outcome")
        await outcome.wait_for()
        await page.wait_for_selector("#sync-outcome[role=alert]", timeout=60_000)
        assert await outcome.inner_text() == hi(
            "Offline: no connection to the server. Everything is kept on this device;"
            " sync again when you have a signal."
        )
        await screenshot(page, "ui-sync-offline-hi")

        centre = await aiohttp_server(create_app(config), host="127.0.0.1", port=port)
        await page.click("#sync-now")
        await page.wait_for_selector("#sync-outcome.ok", timeout=60_000)
        # Records, as the pending count counted them: the one complaint (its journal
        # entry travels with it uncounted).
        assert await page.inner_text("#push-progress") == "1 / 1"
        assert await page.inner_text("#pending") == hi("Everything recorded here is at the centre.")
        await screenshot(page, "ui-sync-done-hi")

        store = await centre.app[STORES].get("kotwali")
        central = await store.get(record_id)
        assert central["complainant"]["phone"] == "9876543210"
        assert central["incident"]["place"] == "मीठापुर बस स्टैंड"
        assert central["created_by"] == "si.sharma"


async def test_an_assigned_visit_is_recorded_with_a_photo(
    tmp_path: Path, open_browser: OpenBrowser
) -> None:
    home = tmp_path / "device"
    async with await _new_replica(home) as replica:
        await replica.db.put(assigned_visit())
    photo = tmp_path / "door.jpg"
    photo.write_bytes(JPEG)

    async for ui in make_ui(home):
        browser = await open_browser(javascript=False, locale="en-IN")
        page = await browser.new_page()
        await page.goto(f"{ui.base}/?key={SECRET}")
        await _unlock(page)
        await page.goto(f"{ui.base}/records/verification_visit?status=assigned")
        await screenshot(page, "ui-assigned-visits")
        assert "due by" in await page.inner_text("#rows")
        await page.click("text=Record this visit")
        assert await page.input_value("#f-name") == "Meena Kumari"
        assert await page.get_attribute("#f-photos", "accept") == "image/*"
        await page.fill("#f-findings", "She has lived here two years with her family.")
        await page.select_option("#f-recommendation", "clear")
        await page.fill("#f-neighbour_name_1", "Gopal")
        await page.fill("#f-neighbour_statement_1", "A quiet tenant.")
        await page.set_input_files("#f-photos", str(photo))
        await screenshot(page, "ui-visit-form")
        assert await fits_phone(page)
        await page.click("#save")
        await page.wait_for_selector("#notice")
        await screenshot(page, "ui-visit-saved")

        unlocked = ui.session.replica
        assert unlocked is not None
        visit = await unlocked.get_record("a" * 32)
        assert visit["status"] == "visited"
        assert visit["neighbours_statements"] == [{"name": "Gopal", "statement": "A quiet tenant."}]
        stored = await unlocked.db.get(visit["_id"], attachments=True)
        [(name, attachment)] = stored["_attachments"].items()
        assert name == "photo-1.jpg"
        assert attachment["content_type"] == "image/jpeg"


async def test_the_pages_are_keyboard_usable(tmp_path: Path, open_browser: OpenBrowser) -> None:
    home = tmp_path / "device"
    await new_device(home)
    async for ui in make_ui(home):
        browser = await open_browser(javascript=False, locale="en-IN")
        page = await browser.new_page()
        await page.goto(f"{ui.base}/?key={SECRET}")
        # The passphrase field has the focus; Enter unlocks.
        await page.keyboard.type(PASSPHRASE)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#lock")
        # Tab reaches the skip link first, then the menu, in reading order.
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        sizes = await page.evaluate(
            "[...document.querySelectorAll('nav.menu a, button, a.button, a.tile')]"
            ".map(e => e.getBoundingClientRect().height)"
        )
        assert sizes
        assert min(sizes) >= 44  # touch targets
        await page.set_viewport_size({"width": 800, "height": 1000})  # a tablet
        await screenshot(page, "ui-home-tablet")


async def test_a_visitor_checked_out_and_a_complaint_updated_in_hindi(
    tmp_path: Path, open_browser: OpenBrowser
) -> None:
    home = tmp_path / "device"
    async with await _new_replica(home) as replica:
        visitor_id, _ = await replica.save_record(visitor())
        complaint_id, _ = await replica.save_record(complaint())

    async for ui in make_ui(home):
        browser = await open_browser(javascript=False, locale="hi-IN")
        page = await browser.new_page()
        await page.goto(f"{ui.base}/?key={SECRET}")
        await _unlock(page)

        await page.goto(f"{ui.base}/record/{visitor_id}")
        assert await page.inner_text("#check-out") == hi("Mark as gone (time out now)")
        await page.click("#check-out")
        await page.wait_for_selector("#notice")
        assert await page.locator("#check-out").count() == 0
        await screenshot(page, "ui-visitor-checked-out-hi")
        assert await fits_phone(page)

        await page.goto(f"{ui.base}/record/{complaint_id}")
        await page.select_option("#f-status", "closed")  # not a beat officer's step
        await page.fill("#f-note", "दोनों पक्षों में समझौता हो गया।")
        await page.click("#update")
        error = await page.inner_text("#f-status-error")
        assert error == hi(
            "Your role may not move the complaint to this status (a station officer decides)."
        )
        assert await page.input_value("#f-note") == "दोनों पक्षों में समझौता हो गया।"
        await screenshot(page, "ui-complaint-update-refused-hi")
        assert await fits_phone(page)
        await page.select_option("#f-status", "assigned")
        await page.click("#update")
        await page.wait_for_selector("#notice")
        log = await page.inner_text("#action-log")
        assert "दोनों पक्षों में समझौता हो गया।" in log
        await screenshot(page, "ui-complaint-updated-hi")

        unlocked = ui.session.replica
        assert unlocked is not None
        assert "time_out" in await unlocked.get_record(visitor_id)
        assert (await unlocked.get_record(complaint_id))["status"] == "assigned"
