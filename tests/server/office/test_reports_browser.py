"""The reports in Debian's Chromium with JavaScript off, on both backends:
the central office reads a month, downloads a list as CSV and opens an
overdue list; an SHO reads their station's report in Hindi on a 360 px phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.i18n import month_name, translations
from tests.browser import OpenBrowser, fits_phone, screenshot
from tests.server.conftest import PASSWORD
from tests.server.office.test_reports import MONTH, seeded

hi = translations("hi").gettext
WIDE = {"width": 1280, "height": 900}


async def _log_in(page: Any, office: TestClient[Any, Any], officer: str) -> None:
    await page.goto(str(office.server.make_url("/office/login")))
    await page.fill("#f-officer_id", officer)
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")


async def test_the_reports_in_the_browser(
    office: TestClient[Any, Any], open_browser: OpenBrowser, backend: str, tmp_path: Path
) -> None:
    ids = await seeded(office)
    context = await open_browser(javascript=False, viewport=WIDE)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await _log_in(page, office, "central")
    await page.click("nav.menu a:has-text('Reports')")
    await page.fill("#f-month", MONTH)
    await page.click("form.filters button[type=submit]")
    total = f"Complaints made in {month_name(MONTH, 'en', 'MMMM y')}: 4"
    assert await page.locator("#total").inner_text() == total
    assert await page.locator("svg.chart rect").count() == 12
    assert (
        await page.locator("#by-station").inner_text() == "Station\tComplaints\nalpha\t3\nbravo\t1"
    )
    await screenshot(page, f"office-reports-en-{backend}")
    async with page.expect_download() as waiting:
        await page.locator("a:has-text('Download as CSV')").nth(1).click()
    download = await waiting.value
    saved = tmp_path / "by-station.csv"
    await download.save_as(saved)
    assert saved.read_text(encoding="utf-8-sig").splitlines() == [
        "Station,Complaints",
        "alpha,3",
        "bravo,1",
    ]
    await page.click("#overdue-links a:has-text('Verification visits')")
    assert ids["late-visit"] in await page.locator("#overdue").inner_text()
    assert ids["new-visit"] not in await page.locator("#overdue").inner_text()
    await screenshot(page, f"office-overdue-en-{backend}")

    phone = await (await open_browser(javascript=False, locale="hi-IN")).new_page()
    await _log_in(phone, office, "so-bravo")
    await phone.goto(str(office.server.make_url(f"/office/reports?month={MONTH}")))
    assert await phone.locator("h1").inner_text() == hi("Reports")
    assert (
        await phone.locator("#by-station").inner_text()
        == f"{hi('Station')}\t{hi('Complaints')}\nbravo\t1"
    )
    assert await fits_phone(phone)
    await screenshot(phone, f"office-reports-hi-phone-{backend}")
