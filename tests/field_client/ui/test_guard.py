"""Only the browser that opened the launch URL drives the app: no secret, a wrong
one, another origin or another host name are refused; it listens on loopback only."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from tests.field_client.ui.support import PASSPHRASE, SECRET, Ui, new_device

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "path", ["/", "/unlock", "/records/complaint", "/sync", "/static/base.css"]
)
async def test_without_the_secret_every_page_is_refused(ui: Ui, path: str) -> None:
    answer = await ui.get(path)
    assert answer.status == 403
    assert "launch secret" in await answer.text()
    assert "Set-Cookie" not in answer.headers  # not even a CSRF cookie is handed out


async def test_a_wrong_secret_is_refused_and_the_right_one_sets_a_cookie(ui: Ui) -> None:
    assert (await ui.get("/?key=guess")).status == 403
    first = await ui.get(f"/?key={SECRET}", allow_redirects=False)
    assert first.status == 303
    assert "key=" not in first.headers["Location"]  # the secret leaves the address bar
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert (await ui.get("/unlock")).status == 200


async def test_a_post_without_the_secret_stores_nothing(ui: Ui) -> None:
    answer = await ui.post("/unlock", {"passphrase": PASSPHRASE})
    assert answer.status == 403
    assert not ui.session.unlocked


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null"])
async def test_a_post_from_another_origin_is_refused(ui: Ui, origin: str) -> None:
    await ui.enter()
    token = await ui.token()
    answer = await ui.post(
        "/unlock", {"passphrase": PASSPHRASE, "csrf_token": token}, origin=origin
    )
    assert answer.status == 403
    assert "another origin" in await answer.text()
    assert not ui.session.unlocked
    # The same form from the app's own origin goes through.
    await ui.unlock()
    assert ui.session.unlocked


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none"])
async def test_fetch_metadata_of_another_site_outweighs_a_matching_origin(
    ui: Ui, site: str
) -> None:
    await ui.enter()
    token = await ui.token()
    answer = await ui.post(
        "/unlock",
        {"passphrase": PASSPHRASE, "csrf_token": token},
        headers={"Sec-Fetch-Site": site},
    )
    assert answer.status == 403
    assert not ui.session.unlocked


async def test_a_form_post_with_a_null_origin_from_the_app_itself_is_accepted(ui: Ui) -> None:
    # What Chromium sends under the pages' Referrer-Policy: no-referrer.
    await ui.enter()
    token = await ui.token()
    answer = await ui.post(
        "/unlock",
        {"passphrase": PASSPHRASE, "csrf_token": token},
        origin="null",
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status == 200
    assert ui.session.unlocked


async def test_a_post_without_origin_or_fetch_metadata_is_refused(ui: Ui) -> None:
    await ui.enter()
    token = await ui.token()
    answer = await ui.post("/unlock", {"passphrase": PASSPHRASE, "csrf_token": token}, origin=None)
    assert answer.status == 403
    assert not ui.session.unlocked


async def test_a_post_without_the_form_token_is_refused(ui: Ui) -> None:
    await ui.enter()
    answer = await ui.post("/unlock", {"passphrase": PASSPHRASE})
    assert answer.status == 403
    assert not ui.session.unlocked


async def test_another_host_name_is_refused_against_dns_rebinding(ui: Ui) -> None:
    await ui.enter()
    port = ui.base.rsplit(":", 1)[1]
    answer = await ui.get("/unlock", headers={"Host": f"rebind.example:{port}"})
    assert answer.status == 403
    assert "wrong host" in await answer.text()


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as the kernel shows them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.append(address)
    return found


async def test_beatsync_ui_listens_on_loopback_only_and_prints_its_url(tmp_path: Path) -> None:
    home = tmp_path / "device"
    await new_device(home)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BEATSYNC_HOME": str(home)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "field_client",
        "ui",
        "--no-browser",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/\?key=([\w-]+)", line)
        assert match, line
        port, secret = int(match.group(1)), match.group(2)
        assert _listening(port) == ["0100007F"]  # 127.0.0.1 and nothing else
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            refused = await http.get(f"http://127.0.0.1:{port}/")
            assert refused.status == 403
            opened = await http.get(f"http://127.0.0.1:{port}/?key={secret}")
            assert opened.status == 200
            assert "/unlock" in str(opened.url)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
