"""End to end in Debian's Chromium, JavaScript off, on both backends: two
officers' devices edit the same complaints offline differently; the gateway
merges what it can and both converge; the clash waits in the office's queue,
where the central office resolves it in the browser with a reason (the page
seen in Hindi and English); both devices pull the resolution and the audit
trail shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from schemas.i18n import translations
from server.config import GatewayConfig
from server.gateway.keys import MERGER
from server.site import create_site
from tests.browser import OpenBrowser, fits_phone, screenshot
from tests.field_client.support import complaint
from tests.server.conflicts.devices import device, edit, live_leaves
from tests.server.conftest import PASSWORD, backend, config_on_both, district_on_both

__all__ = ["backend", "config_on_both", "district_on_both"]

hi = translations("hi").gettext
REASON = "The FIR register and her Aadhaar read Geeta Kumari Sinha."
WIDE = {"width": 1280, "height": 900}


async def _log_in(page: Any, server: TestServer, officer: str) -> None:
    await page.goto(str(server.make_url("/office/login")))
    await page.fill("#f-officer_id", officer)
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")


async def test_two_devices_clash_and_the_office_resolves_it_in_the_browser(
    aiohttp_server: Any,
    config_on_both: GatewayConfig,
    open_browser: OpenBrowser,
    tmp_path: Path,
    backend: str,
) -> None:
    server: TestServer = await aiohttp_server(create_site(config_on_both), host="127.0.0.1")
    beat = await device(server, tmp_path / "beat-tablet", "bo-one")
    desk_pc = await device(server, tmp_path / "station-pc", "so-alpha")
    try:
        mergeable, _ = await beat.save_record(complaint(name="Ram Kumar", officer_id="bo-one"))
        clash, _ = await beat.save_record(complaint(name="Geeta Sinha", officer_id="bo-one"))
        assert (await beat.sync()).refused == ()
        await desk_pc.sync()
        await edit(beat, mergeable, note="Met the complainant at home.")
        await edit(desk_pc, mergeable, complainant__phone="9123456780")
        await edit(beat, clash, complainant__name="Geeta Kumari Sinha")
        await edit(desk_pc, clash, complainant__name="Gita Sinha")
        for replica in (beat, desk_pc):
            assert (await replica.sync()).refused == ()
        report = await server.app[MERGER].merge_station("alpha")
        assert (report.merged, report.queued) == ([mergeable], [clash])
        for replica in (beat, desk_pc, beat):
            await replica.sync()
        merged = {(await live_leaves(r, mergeable))[0] for r in (beat, desk_pc)}
        assert len(merged) == 1

        context = await open_browser(javascript=False, viewport=WIDE)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        await _log_in(page, server, "central")
        assert await page.locator("h1").inner_text() == "Conflict queue"
        await page.click(f"a[href$='/{clash}']")
        await page.goto(page.url + "?lang=hi")
        assert await page.locator("h1").inner_text() == f"{hi('Conflict')}: complaint"
        await screenshot(page, f"office-conflict-hi-{backend}")
        await page.goto(page.url.replace("?lang=hi", "?lang=en"))
        # Sent with a blank reason (the browser itself refuses an empty one):
        # refused on the page, nothing written.
        await page.fill("#f-reason", "   ")
        name_cell = page.locator("tr[data-field='complainant.name'] td", has_text="Geeta Kumari")
        await name_cell.locator("input[type=radio]").check()
        await page.click("button[type=submit]:has-text('Resolve')")
        assert "Write the reason" in await page.locator("#error").inner_text()
        assert len(await live_leaves(beat, clash)) == 2
        await page.fill("#f-reason", REASON)
        await screenshot(page, f"office-conflict-en-{backend}")
        await page.click("button[type=submit]:has-text('Resolve')")
        assert clash in await page.locator("#resolved").inner_text()
        await screenshot(page, f"office-queue-resolved-{backend}")

        for replica in (beat, desk_pc):
            await replica.sync()
            (rev,) = await live_leaves(replica, clash)
            resolved = await replica.get_record(clash)
            assert resolved["complainant"]["name"] == "Geeta Kumari Sinha"
            assert resolved["action_log"][-1]["note"] == REASON
        await page.goto(str(server.make_url(f"/office/audit?station=alpha&record={clash}")))
        trail = await page.locator("#audit").inner_text()
        assert rev[:12] in trail
        assert "central" in trail
        assert "beatsync:merge" not in trail  # the clash was never merged
        await screenshot(page, f"office-audit-{backend}")

        phone = await (await open_browser(javascript=False, locale="hi-IN")).new_page()
        await _log_in(phone, server, "so-alpha")
        await phone.goto(str(server.make_url("/office/devices")))
        assert await phone.locator("h1").inner_text() == hi("Device sync health")
        assert await fits_phone(phone)
        await screenshot(phone, f"office-devices-hi-phone-{backend}")
    finally:
        await beat.close()
        await desk_pc.close()
